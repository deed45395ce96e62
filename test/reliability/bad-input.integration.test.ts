/**
 * Bad input: every case is refused before any mutating vSphere call (the call log of every endpoint
 * proves none happened), with a message that names the field and the fix. Requests go through the
 * client API (validation before they leave, then preflight on a `quickmig worker` process), malformed
 * JSON through the CLI, wrong credentials and TLS pins through workers configured with them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MigrationFailedError } from '../../src/client/failures';
import type { LabInfo } from '../../src/lab/lab';
import { RequestValidationError } from '../../src/request/errors';
import type { MigrationRequestInput } from '../../src/request/request';
import { labEnv, runCli } from '../cli/support';
import { endpoint, startPrivateLab, stopPrivateLab } from '../support/lab';
import { clientsFor, Estate, Matrix, topologyWith, WorkerProcess } from './support';

let lab: LabInfo;
let worker: WorkerProcess;
let badPassword: WorkerProcess;
let badThumbprint: WorkerProcess;
let clients: Awaited<ReturnType<typeof clientsFor>>[] = [];
let estate: Estate;
const matrix = new Matrix('bad-input');

const esxB = { endpoint: 'esx-b', datastore: 'datastore1' };
type Case = {
  name: string;
  request: unknown;
  /** Which worker: the good one, or one with a wrong password / TLS pin for esx-a. */
  worker?: 'good' | 'password' | 'thumbprint';
  /** Expected failure type: RequestValidationError (refused by the client) or the worker's type. */
  type: string;
  field: string;
  fix: RegExp;
};

const CASES: Case[] = [
  {
    name: 'unknown VM',
    request: { source: { endpoint: 'esx-a', name: 'nosuch' }, target: esxB },
    type: 'RequestValidationError',
    field: 'source.name',
    fix: /check the name/,
  },
  {
    name: 'unknown VM by inventory path',
    request: {
      source: { endpoint: 'vcenter', inventoryPath: '/DC1/vm/nosuch' },
      target: { endpoint: 'vcenter', datastore: 'shared-ds' },
    },
    type: 'RequestValidationError',
    field: 'source.inventoryPath',
    fix: /check the name/,
  },
  {
    name: 'unknown source endpoint',
    request: { source: { endpoint: 'esx-z', name: 'off01' }, target: esxB },
    // Refused by the client before any workflow starts: the workers publish their endpoint names.
    type: 'RequestValidationError',
    field: 'esx-z',
    fix: /fix the request's endpoint name or add the endpoint/,
  },
  {
    name: 'unknown target endpoint',
    request: {
      source: { endpoint: 'esx-a', name: 'off01' },
      target: { endpoint: 'esx-q', datastore: 'datastore1' },
    },
    type: 'RequestValidationError',
    field: 'esx-q',
    fix: /fix the request's endpoint name/,
  },
  {
    name: 'unknown target host',
    request: {
      source: { endpoint: 'vcenter', name: 'web01' },
      target: { endpoint: 'vcenter', host: 'nohost.lab', datastore: 'shared-ds' },
    },
    type: 'RequestValidationError',
    field: 'target.host',
    fix: /known: /,
  },
  {
    name: 'unknown target cluster',
    request: {
      source: { endpoint: 'vcenter', name: 'web01' },
      target: { endpoint: 'vcenter', cluster: 'NoCluster', datastore: 'shared-ds' },
    },
    type: 'RequestValidationError',
    field: 'target.cluster',
    fix: /known: /,
  },
  {
    name: 'unknown target datastore',
    request: {
      source: { endpoint: 'esx-a', name: 'off01' },
      target: { endpoint: 'esx-b', datastore: 'nods' },
    },
    type: 'PreflightBlockedError',
    field: 'target.datastore',
    fix: /choose one of/,
  },
  {
    name: 'unknown datastore of one disk',
    request: {
      source: { endpoint: 'esx-a', name: 'off01' },
      target: { ...esxB, disks: [{ index: 0, datastore: 'nods' }] },
    },
    type: 'PreflightBlockedError',
    field: 'target.disks[0]',
    fix: /choose one of/,
  },
  {
    name: 'unknown resource pool',
    request: {
      source: { endpoint: 'vcenter', name: 'web01' },
      target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'shared-ds', resourcePool: 'nopool' },
    },
    type: 'RequestValidationError',
    field: 'target.resourcePool',
    fix: /known: /,
  },
  {
    name: 'unknown VM folder',
    request: {
      source: { endpoint: 'vcenter', name: 'web01' },
      target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'shared-ds', folder: 'nofolder' },
    },
    type: 'RequestValidationError',
    field: 'target.folder',
    fix: /known: /,
  },
  {
    name: 'same source and target',
    request: {
      source: { endpoint: 'vcenter', name: 'web01' },
      target: { endpoint: 'vcenter', host: 'esx01.lab', datastore: 'shared-ds' },
    },
    type: 'PreflightBlockedError',
    field: 'target',
    fix: /change target.host or target.datastore/,
  },
  {
    name: 'name collision on the target',
    request: { source: { endpoint: 'esx-a', name: 'off01' }, target: { ...esxB, name: 'util01' } },
    type: 'PreflightBlockedError',
    field: 'target.name',
    fix: /set target.name to a free name/,
  },
  {
    name: 'not enough free space',
    request: {
      source: { endpoint: 'esx-a', name: 'off01' },
      target: { endpoint: 'esx-b', datastore: 'tiny' },
    },
    type: 'PreflightBlockedError',
    field: 'target.datastore',
    fix: /free space or choose another datastore/,
  },
  {
    name: 'contradictory options: vMotion with a Quick Migration mode',
    request: {
      source: { endpoint: 'vcenter', name: 'web01' },
      target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'shared-ds' },
      options: { method: 'vmotion', mode: 'cold' },
    },
    type: 'PreflightBlockedError',
    field: 'options.mode',
    fix: /remove it or set options.method/,
  },
  {
    name: 'vMotion required between standalone hosts',
    request: { source: { endpoint: 'esx-a', name: 'off01' }, target: esxB, options: { method: 'vmotion' } },
    type: 'PreflightBlockedError',
    field: 'options.method',
    fix: /set options.method to auto or quick-migration/,
  },
  {
    name: 'contradictory target: host and cluster',
    request: {
      source: { endpoint: 'vcenter', name: 'web01' },
      target: { endpoint: 'vcenter', host: 'esx02.lab', cluster: 'Prod', datastore: 'shared-ds' },
    },
    type: 'RequestValidationError',
    field: 'target',
    fix: /give at most one of target.host, target.cluster/,
  },
  {
    name: 'two identities for the VM',
    request: { source: { endpoint: 'esx-a', name: 'off01', moref: 'vm-1' }, target: esxB },
    type: 'RequestValidationError',
    field: 'source',
    fix: /give exactly one of/,
  },
  {
    name: 'missing target datastore',
    request: { source: { endpoint: 'esx-a', name: 'off01' }, target: { endpoint: 'esx-b' } },
    type: 'RequestValidationError',
    field: 'target.datastore',
    fix: /is required/,
  },
  {
    name: 'unknown option value',
    request: { source: { endpoint: 'esx-a', name: 'off01' }, target: esxB, options: { mode: 'fast' } },
    type: 'RequestValidationError',
    field: 'options.mode',
    fix: /must be one of auto, smartswitch, cold/,
  },
  {
    name: 'misspelt property',
    request: { source: { endpoint: 'esx-a', nmae: 'off01' }, target: esxB },
    type: 'RequestValidationError',
    field: 'source.nmae',
    fix: /did you mean 'name'/,
  },
  {
    name: 'negative memory threshold',
    request: {
      source: { endpoint: 'esx-a', name: 'off01' },
      target: esxB,
      options: { memoryThresholdMiB: -1 },
    },
    type: 'RequestValidationError',
    field: 'options.memoryThresholdMiB',
    fix: /must be >=/,
  },
  {
    name: 'unknown key at the top level',
    request: { source: { endpoint: 'esx-a', name: 'off01' }, target: esxB, optoins: { mode: 'cold' } },
    type: 'RequestValidationError',
    field: 'optoins',
    fix: /did you mean 'options'/,
  },
  {
    name: 'unknown key two levels down',
    request: {
      source: { endpoint: 'esx-a', name: 'off01' },
      target: esxB,
      options: { window: { notBefor: '2026-12-03T22:00:00Z' } },
    },
    type: 'RequestValidationError',
    field: 'options.window.notBefor',
    fix: /unknown property 'notBefor'/,
  },
  {
    name: "target name '..' (a folder outside the VM's own)",
    request: { source: { endpoint: 'esx-a', name: 'off01' }, target: { ...esxB, name: '..' } },
    type: 'RequestValidationError',
    field: 'target.name',
    fix: /outside the VM's own/,
  },
  {
    name: "target name with '/' and brackets",
    request: { source: { endpoint: 'esx-a', name: 'off01' }, target: { ...esxB, name: 'a/[b]' } },
    type: 'RequestValidationError',
    field: 'target.name',
    fix: /choose a name without '\/'/,
  },
  {
    name: 'target name of 300 characters',
    request: { source: { endpoint: 'esx-a', name: 'off01' }, target: { ...esxB, name: 'x'.repeat(300) } },
    type: 'RequestValidationError',
    field: 'target.name',
    fix: /at most 80 characters/,
  },
  {
    name: 'datastore given as a datastore path with ..',
    request: {
      source: { endpoint: 'esx-a', name: 'off01' },
      target: { ...esxB, datastore: '[datastore1] ../x' },
    },
    type: 'RequestValidationError',
    field: 'target.datastore',
    fix: /not a path/,
  },
  {
    name: 'source name with a NUL character',
    request: { source: { endpoint: 'esx-a', name: 'off01\u0000' }, target: esxB },
    type: 'RequestValidationError',
    field: 'source.name',
    fix: /U\+0000 \(NUL\)/,
  },
  {
    name: 'target folder path with ..',
    request: {
      source: { endpoint: 'vcenter', name: 'web01' },
      target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'shared-ds', folder: '/DC1/vm/../host' },
    },
    type: 'RequestValidationError',
    field: 'target.folder',
    fix: /from the datacenter down/,
  },
  {
    name: 'the same disk placed twice',
    request: {
      source: { endpoint: 'esx-a', name: 'off01' },
      target: {
        ...esxB,
        disks: [
          { index: 0, datastore: 'datastore1' },
          { label: 'Hard disk 1', datastore: 'datastore1' },
        ],
      },
    },
    type: 'PreflightBlockedError',
    field: 'target.disks[1]',
    fix: /is already placed by target.disks\[0\]; keep one entry/,
  },
  {
    name: 'an inventory path to a template',
    request: { source: { endpoint: 'esx-a', inventoryPath: '/ha-datacenter/vm/tmpl01' }, target: esxB },
    type: 'PreflightBlockedError',
    field: 'source',
    fix: /tmpl01 is a template, not a VM; quickmig moves VMs: convert it to a VM first/,
  },
  {
    name: 'wrong credentials in the worker configuration',
    worker: 'password',
    request: { source: { endpoint: 'esx-a', name: 'off01' }, target: esxB },
    type: 'AuthenticationError',
    field: 'esx-a',
    fix: /password|credential|login/i,
  },
  {
    name: 'wrong TLS thumbprint in the worker configuration',
    worker: 'thumbprint',
    request: { source: { endpoint: 'esx-a', name: 'off01' }, target: esxB },
    type: 'ThumbprintMismatchError',
    field: 'esx-a',
    fix: /thumbprint/i,
  },
];

beforeAll(async () => {
  lab = await startPrivateLab(
    'reliability-bad-input',
    topologyWith([
      {
        name: 'tmpl01',
        host: 'esx-a.lab',
        datastore: 'datastore1',
        memoryMiB: 64,
        power: 'poweredOff',
        template: true,
        disks: [{ sizeMiB: 4 }],
      },
    ]),
  );
  const config = JSON.parse((await import('node:fs')).readFileSync(lab.workerConfig, 'utf8')) as {
    endpoints: Record<string, { passwordFile?: string; password?: string; tls: { thumbprint: string } }>;
  };
  const wrongPassword = structuredClone(config.endpoints);
  delete wrongPassword['esx-a']?.passwordFile;
  (wrongPassword['esx-a'] as { password?: string }).password = 'not-the-password';
  const wrongPin = structuredClone(config.endpoints);
  (wrongPin['esx-a'] as { tls: { thumbprint: string } }).tls.thumbprint = endpoint(lab, 'esx-b').thumbprint;
  worker = new WorkerProcess(lab);
  badPassword = new WorkerProcess(lab, { endpoints: wrongPassword });
  badThumbprint = new WorkerProcess(lab, { endpoints: wrongPin });
  await Promise.all([worker.start(), badPassword.start(), badThumbprint.start()]);
  clients = await Promise.all([worker, badPassword, badThumbprint].map((w) => clientsFor(lab, w.taskQueue)));
  estate = new Estate(lab);
});

afterAll(async () => {
  matrix.write();
  await Promise.all([worker, badPassword, badThumbprint].map((w) => w?.stop()));
  await Promise.all(clients.map((c) => c.close()));
  await estate?.close();
  if (lab) await stopPrivateLab(lab.dir);
});

describe('bad input is refused before any change, naming the field and the fix', () => {
  it.each(CASES)('$name', async (c) => {
    await matrix.run(
      c.name,
      async () => {
        const client = clients[c.worker === 'password' ? 1 : c.worker === 'thumbprint' ? 2 : 0]?.quickmig;
        if (!client) throw new Error('no client');
        const marks = await estate.marks();
        const id = `bad-${c.name.replace(/[^a-z0-9]+/gi, '-')}-${Date.now()}`;
        let error: unknown;
        try {
          await client.start(c.request as MigrationRequestInput, { id });
          await client.result(id);
        } catch (e) {
          error = e;
        }
        let type: string;
        let text: string;
        if (error instanceof RequestValidationError) {
          type = 'RequestValidationError';
          text = error.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
        } else if (error instanceof MigrationFailedError) {
          type = error.type;
          text = error.message;
        } else throw new Error(`not refused as expected: ${String(error)}`);
        expect(type).toBe(c.type);
        expect(text).toContain(c.field);
        expect(text).toMatch(c.fix);
        const calls = await estate.calls(marks);
        for (const [ep, list] of Object.entries(calls)) expect(list, `mutating calls on ${ep}`).toEqual([]);
        return text.split('\n')[0] as string;
      },
      (first) => first,
    );
  });

  it('malformed JSON (CLI): refused with the line and column, exit 3, nothing contacted', async () => {
    await matrix.run('malformed JSON request file (CLI)', async () => {
      const marks = await estate.marks();
      const file = join(lab.dir, 'malformed.json');
      writeFileSync(
        file,
        '{\n  "source": { "endpoint": "esx-a", "name": "off01" },\n  "target": { "endpoint": "esx-b" "datastore": "datastore1" }\n}\n',
      );
      const run = await runCli(['migrate', file, '--detach'], labEnv(lab));
      expect(run.code).toBe(3);
      expect(run.stderr).toMatch(/line 3/);
      expect(run.stderr).toMatch(/expected ',' or '}'/);
      for (const list of Object.values(await estate.calls(marks))) expect(list).toEqual([]);
    });
  });
});
