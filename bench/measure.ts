/** Small measuring helpers shared by the benchmark's figures. */
import { spawn } from 'node:child_process';

/** Repeated measurements of one figure: every sample, the best, and the spread. */
export interface Samples {
  /** Every run, in order. */
  runs: number[];
  /** The best run (the smallest time, or the largest rate, as `better` says). */
  best: number;
  /** (worst − best) / best, so 0.1 means the runs were within 10 %. */
  spread: number;
}

/** Summarises runs where `better` says which direction wins. */
export function samples(runs: number[], better: 'lower' | 'higher'): Samples {
  if (runs.length === 0) return { runs, best: Number.NaN, spread: Number.NaN };
  const best = better === 'lower' ? Math.min(...runs) : Math.max(...runs);
  const worst = better === 'lower' ? Math.max(...runs) : Math.min(...runs);
  return {
    runs: runs.map((r) => round(r, 3)),
    best: round(best, 3),
    spread: round(Math.abs(worst - best) / best, 3),
  };
}

/** Rounds to `digits` decimals. */
export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Seconds `fn` takes. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { seconds: (performance.now() - started) / 1000, value };
}

/** Runs `bash -c script`; resolves with its stderr, rejects when it exits non-zero. */
export function sh(script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -o pipefail; ${script}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(stderr);
      else reject(new Error(`${script.slice(0, 80)}… exited ${code}: ${stderr.slice(0, 2000)}`));
    });
  });
}

/** Single-quotes a string for bash. */
export const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** Prints a progress line to stderr (stdout stays for the final summary). */
export function log(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}
