/**
 * The datastore file transfer against the lab (integration): files copied esx-a → esx-b through the
 * simulated hosts' file API, the target's bytes compared with the datastores' backing files, a connection
 * reset injected mid-file through the control API, and the resumed copy re-copying only what is missing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabControl } from '../../src/lab/control';
import type { LabInfo } from '../../src/lab/lab';
import { projectRoot } from '../../src/lab/tools';
import type { CopyFileResult, CopyFileSpec, FileProgress, TransferProgress } from '../../src/vsphere';
import {
  ConnectionError,
  copyFile,
  copyFiles,
  FileNotFoundError,
  parseDatastorePath,
  TransformError,
  VSphereClient,
} from '../../src/vsphere';
import { controlOf, endpoint, passwordOf, startLab } from '../support/lab';

const MiB = 1024 * 1024;
const folder = `qm-transfer-${randomBytes(4).toString('hex')}`;

let info: LabInfo;
let a: VSphereClient;
let b: VSphereClient;
let controlA: LabControl;
let controlB: LabControl;
/** endpoint → datastore name → backing folder on this machine. */
const backing = new Map<string, Map<string, string>>();
let irAppRate = 0;

async function connect(name: string): Promise<VSphereClient> {
  const ep = endpoint(info, name);
  return VSphereClient.connect({
    url: ep.url,
    username: ep.username,
    password: passwordOf(ep),
    tls: { thumbprint: ep.thumbprint },
  });
}

/** The local file behind a datastore path of a lab endpoint. */
function local(endpointName: string, path: string): string {
  const p = parseDatastorePath(path);
  const dir = backing.get(endpointName)?.get(p.datastore);
  if (dir === undefined) throw new Error(`no backing folder for ${endpointName} ${p.datastore}`);
  return join(dir, p.path);
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Small seeded PRNG (mulberry32), so a failing offset can be replayed with QUICKMIG_TEST_SEED. */
function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Files of the powered-off and the suspended VM on esx-a: their content does not change while we copy. */
function stableVmFiles(targetFolder: string): CopyFileSpec[] {
  const names = [
    'off01/off01.vmx',
    'off01/off01.vmdk',
    'off01/off01-flat.vmdk',
    'off01/off01.nvram',
    'susp01/susp01.vmx',
    'susp01/susp01-flat.vmdk',
    'susp01/susp01-e1805567.vmss',
    'susp01/susp01.nvram',
  ];
  return names.map((n) => ({
    source: { client: a, path: `[datastore1] ${n}` },
    target: { client: b, path: `[datastore1] ${folder}/${targetFolder}/${n}` },
  }));
}

async function expectSameBytes(results: readonly CopyFileResult[]): Promise<void> {
  for (const r of results) {
    const source = await sha256File(local('esx-a', r.source));
    expect(await sha256File(local('esx-b', r.target)), r.target).toBe(source);
    expect(r.sha256Source, r.source).toBe(source);
  }
}

describe('datastore file transfer (integration)', () => {
  beforeAll(async () => {
    info = await startLab();
    [a, b] = await Promise.all([connect('esx-a'), connect('esx-b')]);
    controlA = controlOf(info, 'esx-a');
    controlB = controlOf(info, 'esx-b');
    for (const [name, control] of [
      ['esx-a', controlA],
      ['esx-b', controlB],
    ] as const) {
      const list = await control.call<{ name: string; path: string }[]>('GET', '/datastores');
      backing.set(name, new Map(list.map((d) => [d.name, d.path])));
    }
    // ir-app01's guest writes into the disk copied below; pause it so the source's backing file still
    // holds, after the copy, the bytes the copy read (the copy itself reads under the disk lock).
    const topology = JSON.parse(readFileSync(join(projectRoot, 'lab', 'topology.json'), 'utf8')) as {
      endpoints: { name: string; vms?: { name: string; guestWriteBytesPerSec?: number }[] }[];
    };
    irAppRate =
      topology.endpoints.find((e) => e.name === 'esx-a')?.vms?.find((v) => v.name === 'ir-app01')
        ?.guestWriteBytesPerSec ?? 0;
    await controlA.setGuestRate('ir-app01', 0);
  });

  afterAll(async () => {
    await controlA?.clearFaults();
    await controlA?.setGuestRate('ir-app01', irAppRate);
    await b?.files.delete(`[datastore1] ${folder}`).catch(() => undefined);
    await Promise.all([a?.close(), b?.close()]);
  });

  it('copies a 256 MiB disk esx-a → esx-b byte for byte, hashing on the fly and reading the target back', async () => {
    const source = '[IR-NFS] ir-app01/ir-app01-flat.vmdk';
    const target = `[datastore1] ${folder}/disk/ir-app01-flat.vmdk`;
    const events: FileProgress[] = [];
    const result = await copyFile(
      { client: a, path: source },
      { client: b, path: target },
      { verify: 'sha256', onProgress: (p) => events.push(p) },
    );

    expect(result).toMatchObject({ source, target, size: 256 * MiB, skipped: false });
    const sourceHash = await sha256File(local('esx-a', source));
    expect(await sha256File(local('esx-b', target))).toBe(sourceHash);
    expect(result.sha256Source).toBe(sourceHash);
    expect(result.sha256Target).toBe(sourceHash);

    const copy = events.filter((e) => e.phase === 'copy');
    const verify = events.filter((e) => e.phase === 'verify');
    expect(copy.length).toBeGreaterThan(1);
    expect(copy.at(-1)?.bytes).toBe(256 * MiB);
    expect(verify.at(-1)?.bytes).toBe(256 * MiB);
    const firstVerify = events.findIndex((e) => e.phase === 'verify');
    expect(events.slice(firstVerify).every((e) => e.phase === 'verify')).toBe(true);
    expect(copy.some((e) => e.rateBytesPerSec > 0)).toBe(true);
  });

  it('rewrites a .vmx on the way and records the hash of the bytes uploaded', async () => {
    const source = '[IR-NFS] ir-app01/ir-app01.vmx';
    const target = `[datastore1] ${folder}/vmx/ir-app01-moved.vmx`;
    const original = readFileSync(local('esx-a', source), 'utf8');
    expect(original).toContain('ir-app01.vmdk');
    const rewrite = (text: string) => text.replaceAll('ir-app01', 'ir-app01-moved');

    const result = await copyFile(
      { client: a, path: source },
      { client: b, path: target },
      { verify: 'sha256', transform: rewrite },
    );

    const written = readFileSync(local('esx-b', target));
    expect(written.toString('utf8')).toBe(rewrite(original));
    expect(written.toString('utf8')).toContain('ir-app01-moved.vmdk');
    expect(result.size).toBe(written.length);
    expect(result.sha256Source).toBe(sha256(written));
    expect(result.sha256Target).toBe(sha256(written));
  });

  it('refuses to transform a file larger than 1 MiB, before uploading anything', async () => {
    const target = `[datastore1] ${folder}/vmx/too-large.vmdk`;
    await expect(
      copyFile(
        { client: a, path: '[datastore1] off01/off01-flat.vmdk' },
        { client: b, path: target },
        { transform: (t) => t },
      ),
    ).rejects.toBeInstanceOf(TransformError);
    expect(await b.files.exists(target)).toBe(false);
  });

  it('copies several files in parallel with aggregate progress', async () => {
    const files = stableVmFiles('parallel');
    const events: TransferProgress[] = [];
    const results = await copyFiles(files, {
      concurrency: 3,
      verify: 'sha256',
      progressIntervalMs: 0,
      onProgress: (p) => events.push(p),
    });

    expect(results.map((r) => r.target)).toEqual(files.map((f) => f.target.path));
    expect(results.every((r) => !r.skipped && r.sha256Target === r.sha256Source)).toBe(true);
    await expectSameBytes(results);

    const total = results.reduce((s, r) => s + r.size, 0);
    const last = events.at(-1);
    expect(last).toMatchObject({
      bytesDone: total,
      bytesTotal: total,
      filesDone: files.length,
      etaSeconds: 0,
    });
    expect(last?.current).toEqual([]);
    for (let i = 1; i < events.length; i++) {
      expect((events[i] as TransferProgress).bytesDone).toBeGreaterThanOrEqual(
        (events[i - 1] as TransferProgress).bytesDone,
      );
    }
    const inFlight = Math.max(...events.map((e) => e.current.length));
    expect(inFlight).toBeGreaterThan(1);
    expect(inFlight).toBeLessThanOrEqual(3);
  });

  it('trusts listed sizes only for totals: a stale size still copies every byte, a gone file fails typed', async () => {
    // Listed sizes skip the datastore search per file; a layout listed before the file grew (or one that
    // reports 0) must not cut the copy short.
    const files = stableVmFiles('listed').map((f, i) => ({ ...f, size: i % 2 === 0 ? 0 : 1 }));
    const results = await copyFiles(files, { verify: 'sha256' });
    await expectSameBytes(results);
    expect(results.every((r) => r.size > 1)).toBe(true);

    const gone = {
      source: { client: a, path: '[datastore1] off01/no-such-file.vmdk' },
      target: { client: b, path: `[datastore1] ${folder}/listed/gone.vmdk` },
      size: 4096,
    };
    await expect(copyFiles([gone])).rejects.toBeInstanceOf(FileNotFoundError);
    expect(await b.files.exists(gone.target.path)).toBe(false);
  });

  it('fails with a typed error on a connection reset mid-file, and the next call copies only what is missing', async () => {
    const seed = Number(process.env.QUICKMIG_TEST_SEED ?? Date.now() % 1_000_000);
    const size = 32 * MiB;
    const afterBytes = 64 * 1024 + Math.floor(seededRandom(seed)() * (size - 128 * 1024));
    console.log(`connection reset after ${afterBytes} bytes of off01-flat.vmdk (QUICKMIG_TEST_SEED=${seed})`);
    const files = stableVmFiles('resume');
    const failing = `[datastore1] ${folder}/resume/off01/off01-flat.vmdk`;

    await controlA.clearFaults();
    await controlA.addFault({
      kind: 'http-reset',
      path: 'off01-flat.vmdk',
      method: 'GET',
      afterBytes,
      count: 1,
    });
    const first: CopyFileResult[] = [];
    const error = await copyFiles(files, {
      concurrency: 2,
      verify: 'sha256',
      onFileDone: (r) => first.push(r),
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    await controlA.clearFaults();

    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).method).toBe('GET /folder');
    expect((error as ConnectionError).object).toBe('[datastore1] off01/off01-flat.vmdk');
    // The other disk was in flight (largest first, two at a time): it ran to its end and counts as done;
    // no copy started after the failure.
    expect(first.map((r) => r.target)).toEqual([`[datastore1] ${folder}/resume/susp01/susp01-flat.vmdk`]);

    const mark = (await controlB.calls()).at(-1)?.seq ?? 0;
    const second = await copyFiles(files, { concurrency: 2, verify: 'sha256', alreadyDone: first });
    const missing = files
      .map((f) => f.target.path as string)
      .filter((t) => !first.some((r) => r.target === t));
    const puts = (await controlB.calls(mark)).filter((c) => c.method === 'HTTP PUT' && c.ok);
    expect(puts.map((c) => c.object).sort()).toEqual([...missing].sort());
    expect(puts.map((c) => c.object)).toContain(failing);
    expect(second.filter((r) => !r.skipped).map((r) => r.target)).toEqual(missing);
    expect(second.filter((r) => r.skipped).map((r) => r.target)).toEqual(first.map((r) => r.target));
    await expectSameBytes(second);
  });

  it('copies again a file whose recorded copy was not verified or whose target changed size', async () => {
    const [spec] = stableVmFiles('recheck');
    if (spec === undefined) throw new Error('no file');
    const done = await copyFile(spec.source, spec.target, { verify: 'size' });
    // Recorded at verify 'size' (no read-back): a 'sha256' call must not trust it.
    const [again] = await copyFiles([spec], { verify: 'sha256', alreadyDone: [done] });
    expect(again?.skipped).toBe(false);
    // A record whose size the target does not have is stale.
    const [stale] = await copyFiles([spec], {
      verify: 'size',
      alreadyDone: [{ ...done, size: done.size + 1 }],
    });
    expect(stale?.skipped).toBe(false);
    const [kept] = await copyFiles([spec], { verify: 'sha256', alreadyDone: [again as CopyFileResult] });
    expect(kept?.skipped).toBe(true);
  });

  it('stops promptly when aborted', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    // The copy rejects at the abort, long before its 256 MiB are through (bytes, not time: a busy
    // machine copies slower, never more).
    let seen = 0;
    const copy = copyFile(
      { client: a, path: '[IR-NFS] ir-app01/ir-app01-flat.vmdk' },
      { client: b, path: `[datastore1] ${folder}/abort/ir-app01-flat.vmdk` },
      {
        onProgress: (p) => {
          seen = p.bytes;
          if (p.bytes > 8 * MiB) controller.abort(reason);
        },
        progressIntervalMs: 0,
        signal: controller.signal,
      },
    );
    await expect(copy).rejects.toBe(reason);
    expect(seen).toBeLessThan(256 * MiB);
  });
});
