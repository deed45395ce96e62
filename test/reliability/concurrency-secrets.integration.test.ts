/**
 * Concurrency (the same VM twice at once is refused, also under another workflow id; two VMs to the same
 * target at once both succeed) and secrets (no password in workflow histories fetched with the
 * `temporal` CLI, in worker logs or in CLI output; TLS verified by default; with a key file the histories
 * hold ciphertext only and the UI's codec endpoint decodes them).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecHandler } from '../../src/cli/codec';
import { MigrationAlreadyRunningError, MigrationFailedError } from '../../src/client/failures';
import { AesGcmPayloadCodec, dataConverterFor, loadEncryptionKey } from '../../src/codec/codec';
import type { LabInfo } from '../../src/lab/lab';
import { ensureTemporal } from '../../src/lab/tools';
import { VSphereClient } from '../../src/vsphere';
import { labEnv, runCli } from '../cli/support';
import { endpoint, startPrivateLab, stopPrivateLab } from '../support/lab';
import {
  checkCompleted,
  clientsFor,
  Estate,
  Matrix,
  quietAfterSnapshot,
  smallVm,
  topologyWith,
  WorkerProcess,
  waitUntil,
} from './support';

const run = promisify(execFile);
let lab: LabInfo;
let worker: WorkerProcess;
let encrypted: WorkerProcess;
let clients: Awaited<ReturnType<typeof clientsFor>>;
let estate: Estate;
let keyFile: string;
const cliOutput: string[] = [];
const concurrency = new Matrix('concurrency');
const secrets = new Matrix('secrets');

beforeAll(async () => {
  lab = await startPrivateLab(
    'reliability-concurrency',
    topologyWith([smallVm('s-twice'), smallVm('s-pair1'), smallVm('s-pair2'), smallVm('s-enc')]),
  );
  keyFile = join(lab.dir, 'secrets', 'payload.key');
  writeFileSync(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  worker = new WorkerProcess(lab);
  encrypted = new WorkerProcess(lab, { encryption: { keyFile } });
  await Promise.all([worker.start(), encrypted.start()]);
  clients = await clientsFor(lab, worker.taskQueue);
  estate = new Estate(lab);
});

afterAll(async () => {
  concurrency.write();
  secrets.write();
  await Promise.all([worker?.stop(), encrypted?.stop()]);
  await clients?.close();
  await estate?.close();
  if (lab) await stopPrivateLab(lab.dir);
});

const to = { endpoint: 'esx-b', datastore: 'datastore1' };

describe('concurrency', () => {
  it('the same VM twice at once: the second is refused (same id by the client, another id by preflight)', async () => {
    await concurrency.run('same VM twice at once', async () => {
      const request = {
        source: { endpoint: 'esx-a', name: 's-twice' },
        target: to,
        options: { switchover: 'manual' as const },
      };
      const quiet = quietAfterSnapshot(estate, 's-twice');
      const first = await clients.quickmig.start(request);
      await expect(clients.quickmig.start(request)).rejects.toBeInstanceOf(MigrationAlreadyRunningError);
      // Generous: a copy can still stall once for the 60 s socket timeout on this lab (an open defect,
      // RELIABILITY.md); this case is about refusing the second migration, not about speed.
      await waitUntil(
        'awaiting approval',
        async () => (await clients.quickmig.progress(first.id)).awaitingApproval,
        400_000,
      );
      // Started directly (temporal CLI) under another id: preflight sees the first one's snapshot.
      const temporal = ensureTemporal();
      const otherId = `other-id-s-twice-${Date.now()}`;
      await run(temporal, [
        'workflow',
        'start',
        '--address',
        lab.temporal.address,
        '--task-queue',
        worker.taskQueue,
        '--type',
        'quickMigration',
        '--workflow-id',
        otherId,
        '--input',
        JSON.stringify(request),
      ]);
      const second = await clients.quickmig.result(otherId).catch((e: unknown) => e);
      expect(second).toBeInstanceOf(MigrationFailedError);
      expect((second as MigrationFailedError).type).toBe('PreflightBlockedError');
      expect((second as MigrationFailedError).message).toMatch(/another migration.*wait for it or cancel it/);
      await clients.quickmig.approve(first.id);
      const result = await clients.quickmig.result(first.id);
      await quiet;
      expect(await checkCompleted(estate, 's-twice', result)).toEqual([]);
    });
  }, 600_000);

  it('two VMs to the same target at once: both succeed', async () => {
    await concurrency.run('two VMs to the same target at once', async () => {
      const quiet = [quietAfterSnapshot(estate, 's-pair1'), quietAfterSnapshot(estate, 's-pair2')];
      const started = await Promise.all(
        ['s-pair1', 's-pair2'].map((name) =>
          clients.quickmig.start({ source: { endpoint: 'esx-a', name }, target: to }),
        ),
      );
      const results = await Promise.all(started.map((s) => clients.quickmig.result(s.id)));
      await Promise.all(quiet);
      expect(await checkCompleted(estate, 's-pair1', results[0] as never)).toEqual([]);
      expect(await checkCompleted(estate, 's-pair2', results[1] as never)).toEqual([]);
    });
  }, 600_000);
});

describe('secrets', () => {
  const passwords = () =>
    readdirSync(join(lab.dir, 'secrets'))
      .filter((f) => f.endsWith('.password'))
      .map((f) => readFileSync(join(lab.dir, 'secrets', f), 'utf8').trim());

  it('no password in workflow histories (temporal CLI), worker logs or CLI output', async () => {
    await secrets.run(
      'no password in histories, worker logs, CLI output',
      async () => {
        const env = labEnv(lab);
        for (const args of [
          ['list', '--json'],
          ['status', `quickmig-esx-a-s-twice`, '--json'],
          ['plan', '--vm', 'esx-a/s-enc', '--to', 'esx-b', '--datastore', 'datastore1'],
        ]) {
          const out = await runCli([...args, '--task-queue', worker.taskQueue], env);
          cliOutput.push(out.stdout, out.stderr);
        }
        const temporal = ensureTemporal();
        const { stdout: list } = await run(temporal, [
          'workflow',
          'list',
          '--address',
          lab.temporal.address,
          '--output',
          'json',
        ]);
        const ids = (JSON.parse(list) as { execution: { workflowId: string } }[]).map(
          (w) => w.execution.workflowId,
        );
        expect(ids.length).toBeGreaterThan(3);
        let histories = '';
        for (const id of ids) {
          const { stdout } = await run(
            temporal,
            ['workflow', 'show', '--workflow-id', id, '--address', lab.temporal.address, '--output', 'json'],
            { maxBuffer: 64 << 20 },
          );
          histories += stdout;
        }
        for (const password of passwords()) {
          expect(password.length).toBeGreaterThan(8);
          expect(histories.includes(password), 'password in a history').toBe(false);
          expect(
            Buffer.from(histories).includes(Buffer.from(password).toString('base64')),
            'base64 password in a history',
          ).toBe(false);
          expect(worker.log.includes(password), 'password in the worker log').toBe(false);
          expect(cliOutput.join('\n').includes(password), 'password in CLI output').toBe(false);
        }
        return `${ids.length} histories, ${worker.log.length} bytes of worker log, ${cliOutput.join('').length} bytes of CLI output searched`;
      },
      (d) => d,
    );
  });

  it('TLS is verified by default: a self-signed endpoint without a pin or CA is refused', async () => {
    await secrets.run('TLS verified by default', async () => {
      const ep = endpoint(lab, 'esx-a');
      const error = await VSphereClient.connect({
        url: ep.url,
        username: ep.username,
        password: 'x',
        tls: {},
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(String((error as Error).message)).toMatch(/certificate|self.signed|TLS/i);
    });
  });

  it('with a payload key, histories hold ciphertext only; the client and the codec endpoint decode', async () => {
    await secrets.run('payload encryption codec', async () => {
      const converter = dataConverterFor(keyFile);
      const enc = await clientsFor(lab, encrypted.taskQueue, converter ? { dataConverter: converter } : {});
      try {
        const quiet = quietAfterSnapshot(estate, 's-enc');
        const { id } = await enc.quickmig.start({ source: { endpoint: 'esx-a', name: 's-enc' }, target: to });
        const result = await enc.quickmig.result(id);
        await quiet;
        expect(await checkCompleted(estate, 's-enc', result)).toEqual([]);
        const { stdout } = await run(
          ensureTemporal(),
          ['workflow', 'show', '--workflow-id', id, '--address', lab.temporal.address, '--output', 'json'],
          { maxBuffer: 64 << 20 },
        );
        expect(stdout).toContain(Buffer.from('binary/encrypted').toString('base64'));
        // No cleartext request or result: the VM's datastore path and the method name appear nowhere.
        for (const clear of ['[datastore1] s-enc', 'quick-migration', 'smartswitch', '"endpoint"'])
          for (const form of [clear, Buffer.from(clear).toString('base64')])
            expect(stdout.includes(form), clear).toBe(false);
        // The UI's codec endpoint turns an encrypted payload back into the request.
        const codec = new AesGcmPayloadCodec(loadEncryptionKey(keyFile));
        const server = createServer(
          (req, res) => void codecHandler(codec, 'http://localhost:8233')(req, res),
        );
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
        const port = (server.address() as { port: number }).port;
        const events = (
          JSON.parse(stdout) as {
            events: { workflowExecutionStartedEventAttributes?: { input: { payloads: unknown[] } } }[];
          }
        ).events;
        const input = events[0]?.workflowExecutionStartedEventAttributes?.input.payloads;
        const answer = await fetch(`http://127.0.0.1:${port}/decode`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ payloads: input }),
        });
        server.close();
        const decoded = (await answer.json()) as { payloads: { data: string }[] };
        expect(Buffer.from(decoded.payloads[0]?.data ?? '', 'base64').toString()).toContain('"s-enc"');
      } finally {
        await enc.close();
      }
    });
  });
});
