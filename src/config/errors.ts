/** Thrown when the worker configuration is missing, unreadable or invalid; the message names each field and the fix. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
