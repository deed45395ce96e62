/** The startup figure: how long a worker takes to have a logged-in vSphere client (WSDL load + login). */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchLab } from './lab';
import type { Samples } from './measure';
import { log, round, samples } from './measure';

/** Startup figures, ms. */
export interface StartupFigure {
  /** `VSphereClient.connect` in a fresh process (includes loading and compiling the client's modules). */
  clientMs: Samples;
  /** The same in a process that already connected once. */
  warmClientMs: Samples;
  /** Of that, parsing the WSDL (warm). */
  wsdlMs: Samples;
}

const CHILD = fileURLToPath(new URL('./startup-child.ts', import.meta.url));

function child(arg: string): Promise<{ coldConnectMs: number; warmWsdlMs: number; warmConnectMs: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', CHILD, arg], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.on('error', reject);
    p.on('exit', (code) => {
      if (code !== 0) reject(new Error(`startup child exited ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '{}'));
    });
  });
}

/** Runs the child `runs` times against esx-a. */
export async function startupFigure(lab: BenchLab, runs: number): Promise<StartupFigure> {
  const cold: number[] = [];
  const warm: number[] = [];
  const wsdl: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await child(JSON.stringify(lab.endpoint('esx-a')));
    cold.push(r.coldConnectMs);
    warm.push(r.warmConnectMs);
    wsdl.push(r.warmWsdlMs);
  }
  log(
    `startup: connect cold ${cold.map((c) => round(c, 0)).join('/')} ms, warm ${warm.map((c) => round(c, 0)).join('/')} ms`,
  );
  return {
    clientMs: samples(cold, 'lower'),
    warmClientMs: samples(warm, 'lower'),
    wsdlMs: samples(wsdl, 'lower'),
  };
}
