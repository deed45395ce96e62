/**
 * Migration plans (src/request/batch-plan.ts): YAML and JSON parsing, the defaults merge, and problems reported
 * all at once with the field path, the line and the fix, before anything starts. No server.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import planSchema from '../../schema/migration-plan.schema.json' with { type: 'json' };
import requestSchema from '../../schema/migration-request.schema.json' with { type: 'json' };
import type { PlanProblem } from '../../src/request/batch-plan';
import {
  batchIdOf,
  normalizePlan,
  PlanSyntaxError,
  PlanValidationError,
  parsePlan,
} from '../../src/request/batch-plan';
import { RequestValidationError } from '../../src/request/errors';
import { childIdOf } from '../../src/workflows/batch';

const root = fileURLToPath(new URL('../../', import.meta.url));
const examples = readdirSync(join(root, 'examples')).filter((f) => /plan/.test(f));

/** The problems a plan text is refused with. */
function problemsOf(text: string, file = 'plan.yaml'): PlanProblem[] {
  try {
    parsePlan(text, file);
  } catch (error) {
    expect(error).toBeInstanceOf(PlanValidationError);
    return [...(error as PlanValidationError).problems];
  }
  throw new Error('the plan was accepted');
}

describe('examples/*plan*', () => {
  // A plain validator, independent of the plan module's own error handling.
  const ajv = new Ajv2020({ allErrors: true, strictRequired: false, allowUnionTypes: true });
  ajv.addSchema(requestSchema);
  const validate = ajv.compile(planSchema);

  it('there is at least one', () => {
    expect(examples.length).toBeGreaterThanOrEqual(1);
  });

  it.each(examples)('%s validates against the plan schema and normalizes', (file) => {
    const text = readFileSync(join(root, 'examples', file), 'utf8');
    const data: unknown = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    expect(validate(data), JSON.stringify(validate.errors)).toBe(true);
    const plan = parsePlan(text, file);
    expect(plan.migrations.length).toBeGreaterThan(0);
    for (const request of plan.migrations) {
      expect(request.target.datastore).toBeTruthy();
      expect(request.options.method).toBeTruthy();
    }
  });
});

describe('parsePlan', () => {
  const yaml = `# a comment
name: wave-1
defaults:
  source: { endpoint: esx-a }
  target: { endpoint: esx-b, datastore: ds1, cluster: Prod }
  options: { verify: size, mode: cold }
limits: { global: 3, perSourceHost: 2 }
migrations:
  - source: { name: app01 }
  - source: { endpoint: esx-c, name: app02 }
    target: { datastore: ds2, host: h1, disks: [{ index: 1, datastore: ds3 }] }
    options: { mode: smartswitch }
`;

  it('merges the defaults under every entry: the entry wins, objects merge, host replaces cluster', () => {
    const plan = parsePlan(yaml, 'wave-1.yaml');
    expect(plan.name).toBe('wave-1');
    expect(plan.limits).toEqual({ global: 3, perSourceHost: 2 });
    expect(plan.migrations).toHaveLength(2);
    const [first, second] = plan.migrations;
    expect(first?.source).toEqual({ endpoint: 'esx-a', name: 'app01' });
    expect(first?.target).toEqual({ endpoint: 'esx-b', datastore: 'ds1', cluster: 'Prod', disks: [] });
    expect(first?.options).toMatchObject({ verify: 'size', mode: 'cold', method: 'auto', source: 'keep' });
    expect(second?.source).toEqual({ endpoint: 'esx-c', name: 'app02' });
    expect(second?.target).toEqual({
      endpoint: 'esx-b',
      datastore: 'ds2',
      host: 'h1',
      disks: [{ index: 1, datastore: 'ds3' }],
    });
    expect(second?.options).toMatchObject({ verify: 'size', mode: 'smartswitch' });
  });

  it('takes the resource limits (streams per host, snapshots per datastore, suspends per host) and refuses 0', () => {
    const text = (limits: string) =>
      `limits: ${limits}\ndefaults: { source: { endpoint: a }, target: { endpoint: b, datastore: ds1 } }\nmigrations:\n  - source: { name: app01 }\n`;
    expect(
      parsePlan(text('{ streamsPerHost: 4, snapshotsPerDatastore: 15, suspendsPerHost: 1 }'), 'r.yaml')
        .limits,
    ).toEqual({ streamsPerHost: 4, snapshotsPerDatastore: 15, suspendsPerHost: 1 });
    expect(() => parsePlan(text('{ streamsPerHost: 0 }'), 'r.yaml')).toThrow(
      'limits.streamsPerHost (line 1): must be >= 1 (got 0); leave it out for no limit',
    );
  });

  it('reads JSON the same way, chosen by the extension', () => {
    const json = JSON.stringify(parseYaml(yaml), null, '\t');
    expect(parsePlan(json, 'wave-1.json')).toEqual(parsePlan(yaml, 'wave-1.yaml'));
  });

  it('gives entries a list of their own (disks replace the default list)', () => {
    const plan = parsePlan(`defaults:
  target: { endpoint: b, datastore: d, disks: [{ index: 0, datastore: x }, { index: 1, datastore: y }] }
migrations:
  - source: { endpoint: a, name: one }
  - source: { endpoint: a, name: two }
    target: { disks: [{ label: Hard disk 2, datastore: z }] }
`);
    expect(plan.migrations[0]?.target.disks).toHaveLength(2);
    expect(plan.migrations[1]?.target.disks).toEqual([{ label: 'Hard disk 2', datastore: 'z' }]);
  });

  it('reports every problem at once, with the field path, the line and the fix', () => {
    const problems = problemsOf(`defaults:
  target: { endpoint: esx-b, name: same-for-all }
  options: { mode: fast }
limits: { global: 0, perHost: 2 }
migrations:
  - source: { endpoint: esx-a, name: app01 }
  - source: { endpoint: esx-a, name: app01 }
    target: { datastore: ds1 }
  - source: { name: app03 }
    target: { datastore: ds1 }
    options: { verify: md5 }
  - 42
`);
    expect(problems).toEqual(
      expect.arrayContaining([
        {
          path: 'defaults.target.name',
          line: 2,
          message: expect.stringMatching(/cannot be a default.*set target\.name in the entry/),
        },
        {
          path: 'defaults.options.mode',
          line: 3,
          message: 'must be one of auto, smartswitch, cold, fastest (got "fast")',
        },
        { path: 'limits.global', line: 4, message: 'must be >= 1 (got 0); leave it out for no limit' },
        { path: 'limits.perHost', line: 4, message: expect.stringContaining("did you mean 'perSourceHost'") },
        {
          path: 'migrations[0].target.datastore',
          line: 6,
          message: 'is required: give it in this entry or in defaults.target.datastore',
        },
        {
          path: 'migrations[1].source',
          line: 7,
          message: 'esx-a/app01 is already migrated by migrations[0]; list each VM once',
        },
        {
          path: 'migrations[2].source.endpoint',
          line: 9,
          message: 'is required: give it in this entry or in defaults.source.endpoint',
        },
        {
          path: 'migrations[2].options.verify',
          line: 11,
          message: 'must be one of none, size, sha256 (got "md5")',
        },
        { path: 'migrations[3]', line: 12, message: 'must be an object (got a number)' },
      ]),
    );
    // The bad default is reported once, at defaults, not again for every entry that took it.
    expect(problems.filter((p) => p.path.endsWith('options.mode'))).toHaveLength(1);
    expect(problems).toHaveLength(9);
  });

  it('names the plan file and lists the problems in its message; callers may catch RequestValidationError', () => {
    let error: unknown;
    try {
      parsePlan('limits: { global: -1 }\nmigrations: []\n', 'plans/wave.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RequestValidationError);
    expect((error as Error).message).toBe(
      [
        'invalid migration plan plans/wave.yaml (2 problems):',
        '  - limits.global (line 1): must be >= 1 (got -1); leave it out for no limit',
        '  - migrations (line 2): must list at least 1 migration',
      ].join('\n'),
    );
  });

  it('refuses credentials: there is no field for them, in defaults or in an entry', () => {
    const problems = problemsOf(`defaults:
  source: { endpoint: esx-a, password: hunter2 }
migrations:
  - source: { name: app01 }
    target: { endpoint: esx-b, datastore: ds1, username: root }
`);
    expect(problems.map((p) => p.path)).toEqual([
      'defaults.source.password',
      'migrations[0].target.username',
    ]);
    expect(problems[0]?.message).toContain('only source.endpoint may be a default');
  });

  it('says what to do with a single request given as a plan', () => {
    const problems = problemsOf(
      JSON.stringify({ source: { endpoint: 'a', name: 'b' }, target: { endpoint: 'c', datastore: 'd' } }),
      'request.json',
    );
    expect(problems[0]).toMatchObject({
      path: 'migrations',
      message: expect.stringContaining('list the VMs'),
    });
    expect(problems[1]?.message).toContain('looks like a single request; list it under migrations');
  });

  it('words a default exactly as a single request words that field, once', () => {
    const problems = problemsOf(`defaults:
  target:
    disks:
      - {index: 0, label: a, datastore: x}
      - "no"
migrations:
  - source: {endpoint: a, name: b}
    target: {endpoint: c, datastore: d}
`);
    expect(problems).toEqual([
      {
        path: 'defaults.target.disks[0]',
        line: 4,
        message:
          'give exactly one of defaults.target.disks[0].index, defaults.target.disks[0].label (got defaults.target.disks[0].index and defaults.target.disks[0].label)',
      },
      { path: 'defaults.target.disks[1]', line: 5, message: 'must be an object (got a string)' },
    ]);
  });

  it('reports malformed YAML and JSON with line and column', () => {
    let error: unknown;
    try {
      parsePlan('migrations:\n  - source: { name: a\n  - x\n', 'bad.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PlanSyntaxError);
    expect(error).toMatchObject({ format: 'YAML', line: expect.any(Number), column: expect.any(Number) });
    expect((error as Error).message).toMatch(
      /^invalid migration plan bad\.yaml \(1 problem\):\n {2}- \(plan\): malformed YAML at line \d+, column \d+: /,
    );

    try {
      parsePlan('{\n  "migrations": [\n    { "source": { "name": "a" }, }\n  ]\n}', 'bad.json');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PlanSyntaxError);
    expect(error).toMatchObject({ format: 'JSON', line: 3, column: 34 });
  });

  it('refuses duplicate keys and an empty file', () => {
    expect(() => parsePlan('migrations: []\nmigrations: []\n')).toThrow(PlanSyntaxError);
    expect(problemsOf('')).toEqual([
      { path: '(plan)', message: 'is empty: a plan lists at least its migrations' },
    ]);
  });
});

describe('normalizePlan', () => {
  it('accepts a plan object, and a normalized plan again unchanged', () => {
    const plan = normalizePlan({
      defaults: { target: { endpoint: 'b', datastore: 'd' } },
      migrations: [{ source: { endpoint: 'a', name: 'vm1' } }],
    });
    expect(normalizePlan(plan)).toEqual(plan);
    expect(plan.limits).toEqual({});
  });

  it('refuses a plan of more than 500 migrations, saying how to fix it', () => {
    const migrations = Array.from({ length: 501 }, (_, i) => ({
      source: { endpoint: 'a', name: `vm${i}` },
      target: { endpoint: 'b', datastore: 'd' },
    }));
    expect(() => normalizePlan({ migrations })).toThrow(/split the plan into several batches/);
  });
});

describe('ids', () => {
  it('a named batch gets quickmig-batch-<name>; an unnamed one a timestamp and the suffix', () => {
    const now = new Date('2026-03-04T05:06:07.890Z');
    expect(batchIdOf({ name: 'wave-1' }, now, 'x1')).toBe('quickmig-batch-wave-1');
    expect(batchIdOf({}, now, 'ab12cd')).toBe('quickmig-batch-20260304-050607Z-ab12cd');
  });

  it('a child id is the batch id and the VM, sanitised, the same every time', () => {
    const request = {
      source: { endpoint: 'vcenter', inventoryPath: '/DC1/vm/web 01' },
      target: { endpoint: 'b', datastore: 'd' },
    };
    expect(childIdOf('quickmig-batch-w1', request)).toBe('quickmig-batch-w1-vcenter-DC1-vm-web-01');
    expect(childIdOf('quickmig-batch-w1', request)).toBe(
      childIdOf('quickmig-batch-w1', structuredClone(request)),
    );
  });
});
