/**
 * Benchmark: copyFiles throughput esx-a → esx-b for one large file, against `curl` GET piped into `curl`
 * PUT between the same endpoints (the floor: no hashing, no Node streams), with the peak RSS of each.
 *
 *   npx tsx bench/transfer.ts [--size-mib 1024] [--runs 2] [--lab-dir .quickmig/lab]
 *
 * Uses the lab in --lab-dir (starts it when it is not running, and then stops it again). Writes the
 * source file to esx-a from a generated stream, then alternates the contenders `runs` times each and
 * keeps each one's best run: copyFiles with verify 'none' (SHA-256 on the fly, no read-back), copyFiles
 * with verify 'sha256' (plus the read-back), and curl | curl. curl authenticates with HTTP basic auth (the
 * datastore file API accepts it beside the session cookie; src/vsphere does not expose its cookie) and
 * skips certificate checks (lab only). Prints a table and one JSON line; deletes what it wrote.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { LabEndpoint } from '../src/lab/lab';
import { defaultLabDir, labDown, labStatus, labUp } from '../src/lab/lab';
import type { VerifyMode } from '../src/vsphere';
import { copyFiles, datastoreFileUrl, parseDatastorePath, VSphereClient } from '../src/vsphere';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    runs: { type: 'string', default: '2' },
    'lab-dir': { type: 'string', default: defaultLabDir() },
  },
});
const size = Number(values['size-mib']) * 1024 * 1024;
const runs = Math.max(1, Number(values.runs));
const labDir = values['lab-dir'] as string;
const MB = 1e6;

function connect(ep: LabEndpoint): Promise<VSphereClient> {
  return VSphereClient.connect({
    url: ep.url,
    username: ep.username,
    password: password(ep),
    tls: { thumbprint: ep.thumbprint },
  });
}

function password(ep: LabEndpoint): string {
  return readFileSync(ep.credentials.passwordFile, 'utf8').trim();
}

/** `total` bytes of a random 1 MiB block repeated, produced on demand. */
function generated(total: number): Readable {
  const block = randomBytes(1024 * 1024);
  let left = total;
  return new Readable({
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, block.length);
      left -= n;
      this.push(n === block.length ? block : block.subarray(0, n));
    },
  });
}

/** Samples this process's RSS every 20 ms while `fn` runs; returns its duration and the peak. */
async function measured<T>(
  fn: () => Promise<T>,
): Promise<{ seconds: number; peakRssMiB: number; baseRssMiB: number; value: T }> {
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  const started = performance.now();
  try {
    const value = await fn();
    return {
      seconds: (performance.now() - started) / 1000,
      peakRssMiB: peak / 2 ** 20,
      baseRssMiB: base / 2 ** 20,
      value,
    };
  } finally {
    clearInterval(timer);
  }
}

/** curl GET | curl PUT under /usr/bin/time; the peak RSS is the larger of the two curls'. */
function curlPipe(
  from: LabEndpoint,
  source: string,
  to: LabEndpoint,
  target: string,
): Promise<{ seconds: number; peakRssMiB: number }> {
  const url = (ep: LabEndpoint, path: string) =>
    datastoreFileUrl(ep.url, parseDatastorePath(path), 'ha-datacenter').toString();
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const get = `curl -sS -k --fail -u ${q(`${from.username}:${password(from)}`)} ${q(url(from, source))}`;
  const put =
    `curl -sS -k --fail -o /dev/null -u ${q(`${to.username}:${password(to)}`)} -T - ` +
    `-H 'Content-Length: ${size}' -H 'Expect:' ${q(url(to, target))}`;
  const script = `set -o pipefail; /usr/bin/time -f 'rss %M' ${get} | /usr/bin/time -f 'rss %M' ${put}`;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) {
        reject(new Error(`curl | curl exited ${code}: ${stderr}`));
        return;
      }
      const rss = [...stderr.matchAll(/rss (\d+)/g)].map((m) => Number(m[1]) / 1024);
      resolve({ seconds, peakRssMiB: Math.max(0, ...rss) });
    });
  });
}

async function main(): Promise<void> {
  const startedLab = !labStatus(labDir).up;
  const info = startedLab ? await labUp({ dir: labDir }) : labStatus(labDir).info;
  if (info === undefined) throw new Error(`no lab in ${labDir}`);
  const epA = info.endpoints.find((e) => e.name === 'esx-a');
  const epB = info.endpoints.find((e) => e.name === 'esx-b');
  if (epA === undefined || epB === undefined) throw new Error('the lab needs endpoints esx-a and esx-b');
  const [a, b] = await Promise.all([connect(epA), connect(epB)]);
  const folder = `qm-bench-${randomBytes(4).toString('hex')}`;
  const source = `[datastore1] ${folder}/bench-flat.vmdk`;
  const target = (n: string) => `[datastore1] ${folder}/${n}-flat.vmdk`;
  try {
    await a.files.mkdir(`[datastore1] ${folder}`);
    await a.files.put(source, generated(size), size);

    const best = new Map<string, { seconds: number; peakRssMiB: number; baseRssMiB?: number }>();
    const keep = (name: string, r: { seconds: number; peakRssMiB: number; baseRssMiB?: number }) => {
      const prev = best.get(name);
      best.set(name, {
        seconds: Math.min(prev?.seconds ?? Infinity, r.seconds),
        peakRssMiB: Math.max(prev?.peakRssMiB ?? 0, r.peakRssMiB),
        baseRssMiB: Math.min(prev?.baseRssMiB ?? Infinity, r.baseRssMiB ?? Infinity),
      });
    };
    const viaCopyFiles = async (verify: VerifyMode) => {
      const r = await measured(() =>
        copyFiles([{ source: { client: a, path: source }, target: { client: b, path: target(verify) } }], {
          verify,
        }),
      );
      if (r.value[0]?.size !== size) throw new Error(`copied ${r.value[0]?.size} bytes, expected ${size}`);
      await b.files.delete(target(verify));
      return r;
    };
    for (let i = 0; i < runs; i++) {
      keep('copyFiles, verify none (sha256 on the fly)', await viaCopyFiles('none'));
      const c = await curlPipe(epA, source, epB, target('curl'));
      await b.files.delete(target('curl'));
      keep('curl GET | curl PUT', c);
      keep('copyFiles, verify sha256 (+ read-back)', await viaCopyFiles('sha256'));
    }

    const rows = [...best.entries()].map(([name, r]) => ({
      name,
      seconds: Number(r.seconds.toFixed(2)),
      mbPerSec: Number((size / MB / r.seconds).toFixed(1)),
      peakRssMiB: Number(r.peakRssMiB.toFixed(0)),
      rssBeforeMiB: Number.isFinite(r.baseRssMiB) ? Number(r.baseRssMiB?.toFixed(0)) : null,
    }));
    const curl = rows.find((r) => r.name.startsWith('curl'));
    const ours = rows.find((r) => r.name.includes('verify none'));
    console.log(`file: ${(size / 2 ** 20).toFixed(0)} MiB esx-a → esx-b, best of ${runs} run(s) each`);
    for (const r of rows) {
      console.log(
        `${r.name.padEnd(44)} ${String(r.mbPerSec).padStart(7)} MB/s ${String(r.seconds).padStart(7)} s  peak RSS ${r.peakRssMiB} MiB${r.rssBeforeMiB === null ? ' (curl processes)' : ` (${r.rssBeforeMiB} MiB before)`}`,
      );
    }
    const ratio = ours && curl ? Number((ours.mbPerSec / curl.mbPerSec).toFixed(2)) : null;
    console.log(`copyFiles (verify none) / curl|curl throughput ratio: ${ratio}`);
    console.log(
      `load average during the run: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} on ${cpus().length} cores`,
    );
    console.log(JSON.stringify({ bench: 'transfer', sizeBytes: size, runs, rows, ratio }));
  } finally {
    await a.files.delete(`[datastore1] ${folder}`).catch(() => undefined);
    await b.files.delete(`[datastore1] ${folder}`).catch(() => undefined);
    await Promise.all([a.close(), b.close()]);
    if (startedLab) await labDown(labDir);
  }
}

await main();
