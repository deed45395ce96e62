/**
 * Drives the quickmig CLI as a user does: `node bin/quickmig.js ...` as a child process, with the
 * lab's Temporal address in TEMPORAL_ADDRESS, and a worker process (`quickmig worker`) for a lab.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { LabInfo } from '../../src/lab/lab';
import { projectRoot } from '../../src/lab/tools';

export const CLI = join(projectRoot, 'bin', 'quickmig.js');

/** What a finished CLI process left. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment for CLI processes against a lab: its Temporal, nothing from the caller's profile. */
export function labEnv(lab: LabInfo, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  env.TEMPORAL_ADDRESS = lab.temporal.address;
  env.TEMPORAL_NAMESPACE = lab.temporal.namespace;
  delete env.QUICKMIG_CONFIG;
  delete env.FORCE_COLOR;
  return env;
}

/** A CLI process that is still running, with its output so far. */
export interface CliProcess {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /**
   * Resolves when the output so far matches; rejects when the process ends first, or after `timeoutMs`
   * (default 4 minutes: a bound on a wait, not a speed; a bulk copy on a busy machine takes minutes).
   */
  waitFor(pattern: RegExp, stream?: 'stdout' | 'stderr', timeoutMs?: number): Promise<void>;
  done: Promise<CliRun>;
}

/** Starts `quickmig ...args`. */
export function startCli(args: string[], env: NodeJS.ProcessEnv): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: projectRoot, env, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const w of waiters) w();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of waiters) w();
  });
  const done = new Promise<CliRun>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    done,
    waitFor(pattern, stream = 'stderr', timeoutMs = 240_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(stream === 'stderr' ? stderr : stdout)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${pattern} in ${stream}:\n${stdout}\n${stderr}`));
        }, timeoutMs);
        waiters.add(check);
        check();
        void done.then(() => {
          if (waiters.has(check)) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`process ended before ${pattern} appeared:\n${stdout}\n${stderr}`));
          }
        });
      });
    },
  };
}

/** Runs `quickmig ...args` to the end. */
export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return startCli(args, env).done;
}

/** Starts `quickmig worker` for a lab and waits until it polls. Stop it with stopProcess. */
export async function startWorkerProcess(lab: LabInfo, extraArgs: string[] = []): Promise<CliProcess> {
  const worker = startCli(['worker', '--config', lab.workerConfig, ...extraArgs], labEnv(lab));
  try {
    await worker.waitFor(/Worker state changed[\s\S]*?RUNNING|"state":"RUNNING"/, 'stderr', 90_000);
  } catch (error) {
    // Not ready: the caller gets no handle to stop it with, so stop it here.
    await stopProcess(worker);
    throw error;
  }
  return worker;
}

/** Stops a process this test started (SIGTERM, then SIGKILL after 10 s) and waits for it. */
export async function stopProcess(proc: CliProcess | undefined): Promise<void> {
  if (!proc || proc.child.exitCode !== null) return;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 10_000);
  await proc.done;
  clearTimeout(timer);
}
