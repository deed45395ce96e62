import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020';
import { afterAll, describe, expect, it } from 'vitest';
import schema from '../../schema/migration-request.schema.json' with { type: 'json' };
import { normalizeRequest } from '../../src/request/request';

const root = fileURLToPath(new URL('../../', import.meta.url));
const examplesDir = join(root, 'examples');
const examples = readdirSync(examplesDir)
  .filter((f) => f.endsWith('.json'))
  .map((file) => ({ file, text: readFileSync(join(examplesDir, file), 'utf8') }));

describe('examples/*.json', () => {
  // A plain validator, independent of normalizeRequest's error handling.
  const validate = new Ajv2020({ allErrors: true, strictRequired: false }).compile(schema);

  it('there is one per method and mode', () => {
    expect(examples.length).toBeGreaterThanOrEqual(7);
  });

  it.each(examples)('$file validates against the schema', ({ text }) => {
    const data: unknown = JSON.parse(text);
    expect(validate(data), JSON.stringify(validate.errors)).toBe(true);
    expect(() => normalizeRequest(data)).not.toThrow();
  });

  describe('type-check against MigrationRequestInput', () => {
    // JSON imports widen strings ("vmotion" becomes string), so each example is pasted into a TS
    // object literal, where `satisfies` checks literal values and excess properties, and tsc runs on it.
    const work = mkdtempSync(join(tmpdir(), 'quickmig-examples-'));
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    function typecheck(source: string): { ok: boolean; output: string } {
      writeFileSync(join(work, 'examples.ts'), source);
      writeFileSync(
        join(work, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2023',
            lib: ['ES2023'],
            module: 'preserve',
            moduleResolution: 'bundler',
            strict: true,
            noUncheckedIndexedAccess: true,
            verbatimModuleSyntax: true,
            resolveJsonModule: true,
            skipLibCheck: true,
            noEmit: true,
            types: ['node'],
            typeRoots: [join(root, 'node_modules/@types')],
          },
          files: ['examples.ts'],
        }),
      );
      try {
        execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(work, 'tsconfig.json')], {
          encoding: 'utf8',
        });
        return { ok: true, output: '' };
      } catch (error) {
        return { ok: false, output: String((error as { stdout?: string }).stdout ?? error) };
      }
    }

    const header = `import type { MigrationRequestInput } from ${JSON.stringify(join(root, 'src/request/request'))};\n`;

    it('every example satisfies the type', () => {
      const body = examples.map(
        (e, i) => `export const e${i} = ${e.text.trim()} satisfies MigrationRequestInput;`,
      );
      const result = typecheck(header + body.join('\n'));
      expect(result.output).toBe('');
      expect(result.ok).toBe(true);
    });

    it('the type rejects what the schema rejects', () => {
      // Each @ts-expect-error must be used, or tsc fails: proves the types are as strict as the schema.
      const base = `source: { endpoint: 'vcenter', name: 'web01' }, target: { endpoint: 'vcenter', datastore: 'ds' }`;
      const bad = [
        `{ source: { endpoint: 'vcenter', name: 'web01', moref: 'vm-1' }, target: { endpoint: 'vcenter', datastore: 'ds' } }`,
        `{ source: { endpoint: 'vcenter' }, target: { endpoint: 'vcenter', datastore: 'ds' } }`,
        `{ source: { endpoint: 'vcenter', name: 'web01' }, target: { endpoint: 'vcenter', host: 'h', cluster: 'c', datastore: 'ds' } }`,
        `{ source: { endpoint: 'vcenter', name: 'web01' }, target: { endpoint: 'vcenter', datastore: 'ds', disks: [{ index: 0, label: 'x', datastore: 'd' }] } }`,
        `{ ${base}, options: { method: 'fast' } }`,
        `{ ${base}, options: { mdoe: 'cold' } }`,
        `{ ${base}, password: 'secret' }`,
      ];
      const body = bad.map(
        (b, i) => `// @ts-expect-error\nexport const bad${i} = ${b} satisfies MigrationRequestInput;`,
      );
      const result = typecheck(header + body.join('\n'));
      expect(result.output).toBe('');
    });
  });
});
