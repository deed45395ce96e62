/**
 * Benchmark: a 1 GiB datastore file streamed GET → PUT between the two standalone ESXi endpoints
 * of the lab keeps the Node process's RSS bounded (nothing is buffered beyond the streams'
 * high-water marks).
 *
 *   npx tsx bench/stream-rss.ts [--size-mib 1024] [--lab-dir .quickmig/lab]
 *
 * Uses the lab in --lab-dir (starts it when it is not running, and then stops it again). Writes
 * the source file to esx-a with a generated stream (itself a bounded PUT), copies it to esx-b,
 * samples process.memoryUsage().rss every 20 ms, prints one JSON line, and deletes both files.
 * The result is a measurement, not a pass/fail test; the process exits 1 only if the copy fails or
 * the copied size differs.
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { LabEndpoint } from '../src/lab/lab';
import { defaultLabDir, labDown, labStatus, labUp } from '../src/lab/lab';
import { VSphereClient } from '../src/vsphere';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    'lab-dir': { type: 'string', default: defaultLabDir() },
  },
});
const size = Number(values['size-mib']) * 1024 * 1024;
const labDir = values['lab-dir'] as string;

function connect(ep: LabEndpoint): Promise<VSphereClient> {
  return VSphereClient.connect({
    url: ep.url,
    username: ep.username,
    password: readFileSync(ep.credentials.passwordFile, 'utf8').trim(),
    tls: { thumbprint: ep.thumbprint },
  });
}

/** `total` bytes of a repeating pattern, produced chunk by chunk on demand. */
function generated(total: number): Readable {
  const chunk = Buffer.alloc(256 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31) & 0xff;
  let left = total;
  return new Readable({
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, chunk.length);
      left -= n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
}

const mib = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;

const status = labStatus(labDir);
const startedHere = !(status.up && status.info);
const info = status.up && status.info ? status.info : await labUp({ dir: labDir });
const byName = (name: string) => info.endpoints.find((e) => e.name === name) as LabEndpoint;
const a = await connect(byName('esx-a'));
const b = await connect(byName('esx-b'));
const folder = `[datastore1] qm-bench-${process.pid}`;
try {
  await a.files.mkdir(folder);
  await b.files.mkdir(folder);
  const file = `${folder}/big.bin`;
  await a.files.put(file, generated(size), size);

  globalThis.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const started = performance.now();
  const download = await a.files.get(file);
  if (download.length !== size) throw new Error(`source has ${download.length} bytes, expected ${size}`);
  await b.files.put(file, download.stream, download.length);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);

  const copied = await b.files.stat(file);
  if (copied.size !== size) throw new Error(`target has ${copied.size} bytes, expected ${size}`);
  console.log(
    JSON.stringify({
      bench: 'stream-rss',
      fileMiB: mib(size),
      baselineRssMiB: mib(baseline),
      peakRssMiB: mib(peak),
      growthMiB: mib(peak - baseline),
      seconds: Math.round(seconds * 10) / 10,
      mibPerSecond: Math.round(mib(size) / seconds),
      node: process.version,
    }),
  );
} finally {
  await a.files.delete(folder).catch(() => undefined);
  await b.files.delete(folder).catch(() => undefined);
  await a.close();
  await b.close();
  if (startedHere) await labDown(labDir);
}
