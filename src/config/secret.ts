import { inspect } from 'node:util';

const REDACTED = '***';

/**
 * A credential that cannot leak by accident: it prints, serialises and inspects as `***`. Only
 * `reveal()` gives the value, at the one place that sends it (the vSphere login).
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The secret value itself. */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return REDACTED;
  }
}
