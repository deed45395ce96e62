/**
 * Transfer figures: quickmig's copy (src/vsphere/transfer `copyFiles`, SHA-256 on the fly) of VM disk
 * files esx-a → esx-b against what a user would do instead:
 *
 * - `curl` GET piped into `curl` PUT, with the same session cookie (`client.sessionCookie()`) and the
 *   lab certificate pinned with `--cacert` (two processes, so two cores on TLS; no hashing);
 * - a local `cp` of the simulator's backing file into the other endpoint's datastore folder (no HTTP,
 *   no TLS: the ceiling on this machine).
 *
 * Contenders alternate within every run so drifting load on the shared machine hits them alike.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabEndpoint } from '../src/lab/lab';
import type { CopyFileSpec, VerifyMode, VSphereClient } from '../src/vsphere';
import { copyFiles, datastoreFileUrl, parseDatastorePath } from '../src/vsphere';
import type { BenchLab } from './lab';
import type { Samples } from './measure';
import { log, q, round, samples, sh, timed } from './measure';

const MB = 1e6;

/** One size's figures: throughputs in MB/s (10^6 bytes per second). */
export interface TransferSizeFigures {
  sizeMiB: number;
  quickmigMBps: Samples;
  quickmigVerifyMBps: Samples;
  curlPipeMBps: Samples;
  localCopyMBps: Samples;
  /** best quickmig / best curl pipe. */
  ratioVsCurlPipe: number;
  /** best quickmig / best local cp. */
  ratioVsLocalCopy: number;
}

/** The multi-disk figure: all disks of one VM copied in parallel against one pipe moving them in turn. */
export interface MultiDiskFigures {
  disksMiB: number[];
  concurrency: number;
  quickmigParallelMBps: Samples;
  curlPipeSequentialMBps: Samples;
  ratio: number;
}

/** A headers file for curl (mode 0600: it holds the session cookie), removed by `dispose`. */
function curlHeaders(cookie: string): { file: string; dispose(): void } {
  const file = join(tmpdir(), `quickmig-bench-${randomBytes(6).toString('hex')}.headers`);
  writeFileSync(file, `Cookie: ${cookie}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { file, dispose: () => rmSync(file, { force: true }) };
}

/** curl GET | curl PUT of one file, the way a user would script it. */
async function curlPipe(
  from: { ep: LabEndpoint; client: VSphereClient },
  source: string,
  to: { ep: LabEndpoint; client: VSphereClient },
  target: string,
  size: number,
): Promise<number> {
  const url = (ep: LabEndpoint, path: string) =>
    datastoreFileUrl(ep.url, parseDatastorePath(path), 'ha-datacenter').toString();
  const getHeaders = curlHeaders(from.client.sessionCookie() ?? '');
  const putHeaders = curlHeaders(to.client.sessionCookie() ?? '');
  try {
    const get = `/usr/bin/curl -sS --fail --cacert ${q(from.ep.certFile)} -H @${q(getHeaders.file)} ${q(url(from.ep, source))}`;
    const put =
      `/usr/bin/curl -sS --fail -o /dev/null --cacert ${q(to.ep.certFile)} -H @${q(putHeaders.file)} ` +
      `-T - -H 'Content-Length: ${size}' -H 'Expect:' ${q(url(to.ep, target))}`;
    const { seconds } = await timed(() => sh(`${get} | ${put}`));
    return seconds;
  } finally {
    getHeaders.dispose();
    putHeaders.dispose();
  }
}

/** Runs the single-file figures for every size, `runs` times each. */
export async function transferFigures(
  lab: BenchLab,
  sizesMiB: number[],
  runs: number,
): Promise<TransferSizeFigures[]> {
  const [a, b] = await Promise.all([lab.connect('esx-a'), lab.connect('esx-b')]);
  const from = { ep: lab.endpoint('esx-a'), client: a };
  const to = { ep: lab.endpoint('esx-b'), client: b };
  const out: TransferSizeFigures[] = [];
  try {
    await b.files.mkdir('[datastore1] bench-out').catch(() => undefined);
    for (const mib of sizesMiB) {
      const size = mib * 2 ** 20;
      const source = `[datastore1] xfer-${mib}/xfer-${mib}-flat.vmdk`;
      const target = (who: string) => `[datastore1] bench-out/${who}-${mib}-flat.vmdk`;
      const ours: number[] = [];
      const oursVerify: number[] = [];
      const curl: number[] = [];
      const cp: number[] = [];
      const viaCopyFiles = async (verify: VerifyMode) => {
        const spec: CopyFileSpec = {
          source: { client: a, path: source },
          target: { client: b, path: target(`quickmig-${verify}`) },
        };
        const { seconds, value } = await timed(() => copyFiles([spec], { verify }));
        if (value[0]?.size !== size) throw new Error(`copied ${value[0]?.size} bytes, expected ${size}`);
        await b.files.delete(spec.target.path);
        return size / MB / seconds;
      };
      for (let i = 0; i < runs; i++) {
        ours.push(await viaCopyFiles('none'));
        curl.push(size / MB / (await curlPipe(from, source, to, target('curl'), size)));
        await b.files.delete(target('curl'));
        const src = join(lab.datastoreDir('esx-a'), `xfer-${mib}`, `xfer-${mib}-flat.vmdk`);
        const dst = join(lab.datastoreDir('esx-b'), 'bench-out', `cp-${mib}-flat.vmdk`);
        const local = await timed(() => sh(`cp --sparse=never ${q(src)} ${q(dst)}`));
        rmSync(dst, { force: true });
        cp.push(size / MB / local.seconds);
        oursVerify.push(await viaCopyFiles('sha256'));
        log(
          `transfer ${mib} MiB run ${i + 1}: quickmig ${round(ours.at(-1) ?? 0, 0)} MB/s, ` +
            `curl|curl ${round(curl.at(-1) ?? 0, 0)}, cp ${round(cp.at(-1) ?? 0, 0)}, ` +
            `quickmig+read-back ${round(oursVerify.at(-1) ?? 0, 0)}`,
        );
      }
      const s = {
        quickmigMBps: samples(ours, 'higher'),
        quickmigVerifyMBps: samples(oursVerify, 'higher'),
        curlPipeMBps: samples(curl, 'higher'),
        localCopyMBps: samples(cp, 'higher'),
      };
      out.push({
        sizeMiB: mib,
        ...s,
        ratioVsCurlPipe: round(s.quickmigMBps.best / s.curlPipeMBps.best, 3),
        ratioVsLocalCopy: round(s.quickmigMBps.best / s.localCopyMBps.best, 3),
      });
    }
    return out;
  } finally {
    await b.files.delete('[datastore1] bench-out').catch(() => undefined);
    await Promise.all([a.close(), b.close()]);
  }
}

/** All disks of the `multi` VM: copyFiles in parallel vs one curl pipe moving them one after another. */
export async function multiDiskFigures(
  lab: BenchLab,
  disksMiB: number[],
  runs: number,
  concurrency: number,
): Promise<MultiDiskFigures> {
  const [a, b] = await Promise.all([lab.connect('esx-a'), lab.connect('esx-b')]);
  const from = { ep: lab.endpoint('esx-a'), client: a };
  const to = { ep: lab.endpoint('esx-b'), client: b };
  const name = (i: number) => (i === 0 ? 'multi-flat.vmdk' : `multi_${i}-flat.vmdk`);
  const total = disksMiB.reduce((s, m) => s + m * 2 ** 20, 0);
  const ours: number[] = [];
  const curl: number[] = [];
  try {
    await b.files.mkdir('[datastore1] bench-multi').catch(() => undefined);
    for (let r = 0; r < runs; r++) {
      const specs: CopyFileSpec[] = disksMiB.map((_, i) => ({
        source: { client: a, path: `[datastore1] multi/${name(i)}` },
        target: { client: b, path: `[datastore1] bench-multi/q-${name(i)}` },
      }));
      const par = await timed(() => copyFiles(specs, { verify: 'none', concurrency }));
      ours.push(total / MB / par.seconds);
      let seconds = 0;
      for (const [i, mib] of disksMiB.entries()) {
        seconds += await curlPipe(
          from,
          `[datastore1] multi/${name(i)}`,
          to,
          `[datastore1] bench-multi/c-${name(i)}`,
          mib * 2 ** 20,
        );
      }
      curl.push(total / MB / seconds);
      await b.files.delete('[datastore1] bench-multi');
      await b.files.mkdir('[datastore1] bench-multi');
      log(
        `multi-disk run ${r + 1}: quickmig parallel ${round(ours.at(-1) ?? 0, 0)} MB/s, curl|curl in turn ${round(curl.at(-1) ?? 0, 0)}`,
      );
    }
  } finally {
    await b.files.delete('[datastore1] bench-multi').catch(() => undefined);
    await Promise.all([a.close(), b.close()]);
  }
  const s = {
    quickmigParallelMBps: samples(ours, 'higher'),
    curlPipeSequentialMBps: samples(curl, 'higher'),
  };
  return {
    disksMiB,
    concurrency,
    ...s,
    ratio: round(s.quickmigParallelMBps.best / s.curlPipeSequentialMBps.best, 3),
  };
}
