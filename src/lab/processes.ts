/** Starting and stopping the lab's background processes, and finding free loopback ports. */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { LabError } from './errors';

/** A process the lab started, as recorded in its state file. */
export interface LabProcess {
  /** What it is: `temporal` or `vcsim:<endpoint>`. */
  role: string;
  pid: number;
  /** The executable, to recognise the process again before signalling it (pids are reused). */
  executable: string;
  args: string[];
  log: string;
}

/**
 * The start of the range the kernel takes outgoing connections' local ports (and `listen(0)` ports)
 * from. A lab port picked inside it can be taken, between the pick and the server's bind, by any
 * connection the machine opens or by a port the Temporal dev server picks for its own services.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (low > 2048) return low;
  } catch {
    // not Linux: use the Linux default below
  }
  return 32768;
}

/** True when a server can listen on 127.0.0.1:port right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A free TCP port on 127.0.0.1, chosen at random below the ephemeral range so that no outgoing
 * connection can take it before the lab's server binds it (nor after a restart on the same port).
 */
export async function freePort(): Promise<number> {
  const high = ephemeralLow();
  const low = Math.max(1024, high - 16_384);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await canListen(port)) return port;
  }
  throw new LabError(`no free TCP port on 127.0.0.1 between ${low} and ${high - 1}`);
}

/** `count` distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/**
 * Starts a process detached from this one (its own process group, no terminal), with stdout and
 * stderr appended to files, so it outlives the CLI that started it.
 */
export function startDetached(
  role: string,
  executable: string,
  args: string[],
  files: { stdout: string; stderr: string },
  env: NodeJS.ProcessEnv = process.env,
): LabProcess {
  const out = openSync(files.stdout, 'a');
  const err = files.stderr === files.stdout ? out : openSync(files.stderr, 'a');
  try {
    const child = spawn(executable, args, { detached: true, stdio: ['ignore', out, err], env });
    if (child.pid === undefined) throw new LabError(`Could not start ${role} (${executable})`);
    child.unref();
    return { role, pid: child.pid, executable, args, log: files.stderr };
  } finally {
    closeSync(out);
    if (err !== out) closeSync(err);
  }
}

/** True when the pid is alive and still runs the recorded executable (not a reused pid). */
export function isRunning(proc: LabProcess): boolean {
  try {
    process.kill(proc.pid, 0);
  } catch {
    return false;
  }
  const cmdline = `/proc/${proc.pid}/cmdline`;
  if (!existsSync(cmdline)) return true;
  let argv0: string;
  try {
    argv0 = readFileSync(cmdline, 'utf8').split('\0')[0] ?? '';
  } catch {
    // It exited between the two checks (seen as ENOENT, which used to abort a lab's teardown halfway).
    return false;
  }
  // A zombie (exited, not yet reaped) has an empty command line.
  return argv0 === proc.executable;
}

/** SIGTERM, then SIGKILL after `graceMs`, to the process group the lab started. */
export async function stopProcess(proc: LabProcess, graceMs = 5000): Promise<void> {
  if (!isRunning(proc)) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid, sig);
    } catch {
      try {
        process.kill(proc.pid, sig);
      } catch {
        // already gone
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isRunning(proc)) return;
    await sleep(50);
  }
  signal('SIGKILL');
  while (isRunning(proc)) await sleep(20);
}

/** Polls `check` until it returns a value, the process dies, or the timeout passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  options: { timeoutMs: number; process?: LabProcess },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (options.process && !isRunning(options.process)) {
      throw new LabError(
        `${what}: the process exited early; see ${options.process.log}\n${tail(options.process.log)}`,
      );
    }
    await sleep(100);
  }
  const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  const log = options.process ? `; see ${options.process.log}\n${tail(options.process.log)}` : '';
  throw new LabError(`${what}: not ready after ${options.timeoutMs} ms${cause}${log}`);
}

/** The last lines of a log file, for error messages. */
export function tail(file: string, lines = 15): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}
