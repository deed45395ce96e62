import { describe, expect, it } from 'vitest';
import schema from '../../schema/migration-request.schema.json' with { type: 'json' };
import { RequestSyntaxError, RequestValidationError } from '../../src/request/errors';
import type { MigrationRequest } from '../../src/request/request';
import { normalizeRequest, parseRequest } from '../../src/request/request';
import { problems } from './problems';

const minimal = {
  source: { endpoint: 'vcenter', name: 'web01' },
  target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'shared-ds' },
};

describe('normalizeRequest', () => {
  it('applies every default', () => {
    expect(normalizeRequest(minimal)).toEqual({
      source: { endpoint: 'vcenter', name: 'web01' },
      target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'shared-ds', disks: [] },
      options: {
        method: 'auto',
        mode: 'auto',
        diskType: 'same',
        source: 'keep',
        finalizeInstantRecovery: false,
        verify: 'sha256',
        switchover: 'auto',
        memoryThresholdMiB: 8192,
        precopy: { maxRounds: 8, onBudgetMiss: 'wait-approval', refreshIntervalMs: 30_000, headroom: 0.2 },
        shutdown: { mode: 'guest', timeoutMs: 300_000, onTimeout: 'abort' },
        targetVm: { disconnectMedia: true, upgradeHardware: false },
        commit: { afterMs: 0 },
      },
    } satisfies MigrationRequest);
  });

  it('keeps given options, fills the rest, drops $schema, and leaves the input alone', () => {
    const input = {
      $schema: '../schema/x.json',
      ...minimal,
      options: { method: 'quick-migration', verify: 'size' },
    };
    const before = structuredClone(input);
    const request = normalizeRequest(input);
    expect(request.options).toMatchObject({ method: 'quick-migration', verify: 'size', mode: 'auto' });
    expect(request).not.toHaveProperty('$schema');
    expect(input).toEqual(before);
  });

  it.each([
    ['name', { name: 'web01' }],
    ['inventoryPath', { inventoryPath: '/DC1/vm/web01' }],
    ['moref', { moref: 'vm-42' }],
    ['instanceUuid', { instanceUuid: '5029c4a1-1d8e-4a3f-9a0b-2f4e6c1d7b90' }],
  ])('identifies the VM by %s', (_key, identity) => {
    const request = normalizeRequest({ ...minimal, source: { endpoint: 'vcenter', ...identity } });
    expect(request.source).toEqual({ endpoint: 'vcenter', ...identity });
  });

  const table: { name: string; input: unknown; problems: { path: string; message: string }[] }[] = [
    {
      name: 'no identity',
      input: { ...minimal, source: { endpoint: 'vcenter' } },
      problems: [
        {
          path: 'source',
          message: 'give exactly one of source.name, source.inventoryPath, source.moref, source.instanceUuid',
        },
      ],
    },
    {
      name: 'two identities',
      input: { ...minimal, source: { endpoint: 'vcenter', name: 'web01', moref: 'vm-1' } },
      problems: [
        {
          path: 'source',
          message:
            'give exactly one of source.name, source.inventoryPath, source.moref, source.instanceUuid (got source.name and source.moref)',
        },
      ],
    },
    {
      name: 'unknown method',
      input: { ...minimal, options: { method: 'fast' } },
      problems: [
        { path: 'options.method', message: 'must be one of auto, vmotion, quick-migration (got "fast")' },
      ],
    },
    {
      name: 'unknown mode, diskType, verify, switchover and source handling',
      input: {
        ...minimal,
        options: { mode: 'hot', diskType: 'eager', verify: 'md5', switchover: 'now', source: 'drop' },
      },
      problems: [
        { path: 'options.mode', message: 'must be one of auto, smartswitch, cold, fastest (got "hot")' },
        { path: 'options.diskType', message: 'must be one of same, thin, thick, thick-eager (got "eager")' },
        { path: 'options.source', message: 'must be one of keep, delete (got "drop")' },
        { path: 'options.verify', message: 'must be one of none, size, sha256 (got "md5")' },
        { path: 'options.switchover', message: 'must be one of auto, manual (got "now")' },
      ],
    },
    {
      name: 'typo in an option name',
      input: { ...minimal, options: { mdoe: 'cold' } },
      problems: [{ path: 'options.mdoe', message: "unknown property 'mdoe' — did you mean 'mode'?" }],
    },
    {
      name: 'an option at the top level',
      input: { ...minimal, method: 'vmotion' },
      problems: [
        { path: 'method', message: "unknown property 'method' here — did you mean 'options.method'?" },
      ],
    },
    {
      name: 'an unknown property with nothing close',
      input: { ...minimal, options: { foo: 1 } },
      problems: [
        {
          path: 'options.foo',
          message:
            "unknown property 'foo'; allowed: method, mode, diskType, source, finalizeInstantRecovery, verify, switchover, memoryThresholdMiB, maxDowntimeMs, precopy, window, shutdown, targetVm, commit",
        },
      ],
    },
    {
      name: 'credentials are not part of a request',
      input: { ...minimal, source: { endpoint: 'vcenter', name: 'web01', password: 'x' } },
      problems: [
        {
          path: 'source.password',
          message: "unknown property 'password'; allowed: endpoint, name, inventoryPath, moref, instanceUuid",
        },
      ],
    },
    {
      name: 'missing target datastore and endpoint',
      input: { source: minimal.source, target: { host: 'esx02.lab' } },
      problems: [
        { path: 'target.endpoint', message: 'is required' },
        { path: 'target.datastore', message: 'is required' },
      ],
    },
    {
      name: 'missing source and target',
      input: {},
      problems: [
        { path: 'source', message: 'is required' },
        { path: 'target', message: 'is required' },
      ],
    },
    {
      name: 'host and cluster together',
      input: { ...minimal, target: { ...minimal.target, cluster: 'Prod' } },
      problems: [{ path: 'target', message: 'give at most one of target.host, target.cluster' }],
    },
    {
      name: 'disk entries',
      input: {
        ...minimal,
        target: {
          ...minimal.target,
          disks: [
            { index: -1, datastore: 'a' },
            { datastore: 'b' },
            { index: 0, label: 'Hard disk 1', datastore: '' },
          ],
        },
      },
      problems: [
        { path: 'target.disks[0].index', message: 'must be >= 0 (got -1)' },
        {
          path: 'target.disks[1]',
          message: 'give exactly one of target.disks[1].index, target.disks[1].label',
        },
        {
          path: 'target.disks[2]',
          message:
            'give exactly one of target.disks[2].index, target.disks[2].label (got target.disks[2].index and target.disks[2].label)',
        },
        { path: 'target.disks[2].datastore', message: 'must not be empty' },
      ],
    },
    {
      name: 'wrong types',
      input: {
        source: 'web01',
        target: { ...minimal.target, disks: {} },
        options: { finalizeInstantRecovery: 'yes', memoryThresholdMiB: 8.5 },
      },
      problems: [
        { path: 'source', message: 'must be an object (got a string)' },
        { path: 'target.disks', message: 'must be an array (got an object)' },
        { path: 'options.finalizeInstantRecovery', message: 'must be a boolean (got a string)' },
        { path: 'options.memoryThresholdMiB', message: 'must be an integer (got a number)' },
      ],
    },
    {
      name: 'a malformed instance UUID names the expected form',
      input: { ...minimal, source: { endpoint: 'vcenter', instanceUuid: 'abc' } },
      problems: [
        {
          path: 'source.instanceUuid',
          message: 'must be written like "5029c4a1-1d8e-4a3f-9a0b-2f4e6c1d7b90" (got "abc")',
        },
      ],
    },
    {
      name: 'not an object',
      input: [minimal],
      problems: [{ path: '(request)', message: 'must be an object (got an array)' }],
    },
    {
      name: 'not JSON data',
      input: { ...minimal, options: { method: () => 'auto' } },
      problems: [{ path: '(request)', message: 'must be plain JSON data' }],
    },
  ];

  it.each(table)('$name', ({ input, problems: expected }) => {
    expect(problems(input)).toEqual(expected);
  });

  it('lists every problem in the message, one per line', () => {
    expect(() => normalizeRequest({ ...minimal, options: { method: 'fast', mdoe: 'cold' } })).toThrow(
      [
        'invalid migration request (2 problems):',
        "  - options.mdoe: unknown property 'mdoe' — did you mean 'mode'?",
        '  - options.method: must be one of auto, vmotion, quick-migration (got "fast")',
      ].join('\n'),
    );
  });
});

describe('names and paths', () => {
  const withTarget = (target: Record<string, unknown>) => ({
    ...minimal,
    target: { ...minimal.target, ...target },
  });
  const withSource = (source: Record<string, unknown>) => ({
    ...minimal,
    source: { endpoint: 'vcenter', ...source },
  });
  const one = (input: unknown) => {
    const found = problems(input);
    expect(found).toHaveLength(1);
    return found[0] as { path: string; message: string };
  };

  it.each([
    { name: '..', fix: /outside the VM's own/ },
    { name: '.', fix: /outside the VM's own/ },
    { name: 'app/01', fix: /becomes its folder on the datastore; choose a name without '\/'/ },
    { name: 'app\\01', fix: /choose a name without/ },
    { name: 'app[1]', fix: /choose a name without '\[' or '\]'/ },
    { name: 'app\u000001', fix: /U\+0000 \(NUL\)/ },
    { name: ' app01', fix: /remove the spaces/ },
    { name: 'a'.repeat(300), fix: /at most 80 characters/ },
  ])('target.name $name is refused: $fix', ({ name, fix }) => {
    const p = one(withTarget({ name }));
    expect(p.path).toBe('target.name');
    expect(p.message).toMatch(fix);
  });

  it.each([
    { datastore: 'ds/../other', fix: /not a path/ },
    { datastore: 'ds] x', fix: /contains '\] '/ },
    { datastore: 'ds\u0000', fix: /NUL/ },
    { datastore: 'd'.repeat(300), fix: /300 characters/ },
  ])('target.datastore $datastore is refused: $fix', ({ datastore, fix }) => {
    const p = one(withTarget({ datastore }));
    expect(p.path).toBe('target.datastore');
    expect(p.message).toMatch(fix);
  });

  it('a disk placed on a datastore path is refused at its index', () => {
    const p = one(withTarget({ disks: [{ index: 0, datastore: '[ds] vm/../x' }] }));
    expect(p.path).toBe('target.disks[0].datastore');
    expect(p.message).toMatch(/not a path/);
  });

  it.each([
    { field: 'folder', value: '/DC1/vm/../host' },
    { field: 'resourcePool', value: '/DC1/host/./Prod' },
  ])('target.$field with a relative segment is refused', ({ field, value }) => {
    const p = one(withTarget({ [field]: value }));
    expect(p.path).toBe(`target.${field}`);
    expect(p.message).toMatch(/write it from the datacenter down/);
  });

  it('a source named by a path, or with a 300-character name, or by a path with ..', () => {
    expect(one(withSource({ name: 'DC1/vm/app01' })).message).toMatch(/name the VM by source.inventoryPath/);
    expect(one(withSource({ name: 'x'.repeat(300) })).path).toBe('source.name');
    expect(one(withSource({ inventoryPath: '/DC1/vm/../vm/app01' })).path).toBe('source.inventoryPath');
  });

  it('keeps names vSphere allows: brackets in a datastore name, spaces and Unicode, folders as paths', () => {
    expect(() =>
      normalizeRequest(
        withTarget({ datastore: 'ds[1]', name: 'Web Server (prod) — 移行', folder: '/DC1/vm/prod' }),
      ),
    ).not.toThrow();
  });
});

describe('parseRequest', () => {
  it('parses and normalizes JSON text (a byte order mark is fine)', () => {
    expect(parseRequest(`\uFEFF${JSON.stringify(minimal)}`).options.method).toBe('auto');
  });

  it.each([
    ['{"source": {"endpoint": "vcenter",}}', 1, 35, 'unexpected "}", expected a double-quoted property name'],
    ['{\n  "source": tru\n}', 2, 13, 'unexpected "t", expected a value'],
    ['{\n  "a": 1\n  "b": 2\n}', 3, 3, `unexpected "\\"", expected ',' or '}'`],
    ['{"a": [1, 2}', 1, 12, `unexpected "}", expected ',' or ']'`],
    [
      '{"a": "x',
      1,
      7,
      'unexpected "\\"", invalid string (unterminated, bad escape or raw control character)',
    ],
    ['{"a" 1}', 1, 6, `unexpected "1", expected ':' after the property name`],
    ['', 1, 1, 'unexpected end of text, expected a value'],
    ['{"a": 1} x', 1, 10, 'unexpected "x", expected end of text after the JSON value'],
  ])('names the position of malformed JSON: %j', (text, line, column, detail) => {
    let caught: unknown;
    try {
      parseRequest(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RequestSyntaxError);
    expect(caught).toBeInstanceOf(RequestValidationError);
    const error = caught as RequestSyntaxError;
    expect({ line: error.line, column: error.column }).toEqual({ line, column });
    expect(error.problems).toEqual([
      { path: '(request)', message: `malformed JSON at line ${line}, column ${column}: ${detail}` },
    ]);
  });

  it('valid JSON that is not a valid request reports schema problems', () => {
    expect(() => parseRequest('{"source": {"endpoint": "vcenter", "name": "web01"}}')).toThrow(
      'target: is required',
    );
  });
});

describe('the schema', () => {
  type Node = {
    type?: string;
    properties?: Record<string, Node>;
    required?: string[];
    items?: Node;
    additionalProperties?: boolean;
    description?: string;
    default?: unknown;
  };

  function objects(node: Node, path: string): { path: string; node: Node }[] {
    const own = node.properties ? [{ path, node }] : [];
    const children = Object.entries(node.properties ?? {}).flatMap(([k, v]) => objects(v, `${path}.${k}`));
    return [...own, ...children, ...(node.items ? objects(node.items, `${path}[]`) : [])];
  }

  const all = objects(schema as Node, '(request)');

  it('closes every object with additionalProperties: false', () => {
    expect(all.filter((o) => o.node.additionalProperties !== false).map((o) => o.path)).toEqual([]);
  });

  it('documents every property, with its default (or says there is none)', () => {
    const undocumented = all.flatMap(({ path, node }) =>
      Object.entries(node.properties ?? {})
        .filter(([key, p]) => {
          if (!p.description) return true;
          const required = node.required?.includes(key) ?? false;
          return !required && p.default === undefined && !/Default:|No default/.test(p.description);
        })
        .map(([key]) => `${path}.${key}`),
    );
    expect(undocumented).toEqual([]);
  });

  it('has no place for credentials', () => {
    const names = all.flatMap((o) => Object.keys(o.node.properties ?? {}));
    expect(names.filter((n) => /pass|secret|token|credential|user|key/i.test(n))).toEqual([]);
  });
});
