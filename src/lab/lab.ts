/**
 * The lab: a real Temporal dev server (with its Web UI, SQLite persistence and the search attributes
 * registered) and one vSphere simulator process per endpoint of a topology, on free loopback ports with
 * TLS and credentials. `labUp` starts it and writes its state and a ready-to-use worker configuration
 * under the lab folder; `labDown` stops exactly what `labUp` started.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultLabDir, labStatePath, labWorkerConfigPath } from '../config/lab-paths';
import { DEFAULT_TASK_QUEUE, SEARCH_ATTRIBUTES } from '../request/contract';
import { LabError } from './errors';
import { probeHttpPage, probeTemporal, probeVsphere } from './probe';
import type { LabProcess } from './processes';
import { freePorts, isRunning, startDetached, stopProcess, waitFor } from './processes';
import type { LabTools } from './tools';
import { ensureTools } from './tools';
import type { EffectiveProfile, EndpointSpec, Topology } from './topology';
import { DEFAULT_TOPOLOGY, effectiveProfile, endpointSpec, loadTopology } from './topology';

/** A started simulated vSphere endpoint, as `lab up --json` prints it. */
export interface LabEndpoint {
  name: string;
  kind: 'vcenter' | 'esx';
  url: string;
  username: string;
  /** Where the password is: a file beside the lab state (mode 0600), never the password itself. */
  credentials: { passwordFile: string };
  /** SHA-256 thumbprint of the endpoint's TLS certificate. */
  thumbprint: string;
  certFile: string;
  /** The lab's control API (fault injection, call log, guest writes). */
  control: { url: string; tokenFile: string };
  /** The times and rates this endpoint runs with (lab/vcsim/profiles.json), for every figure to name. */
  profile: EffectiveProfile;
  /** The topology's users besides the administrator, each with the file holding its password. */
  users?: { name: string; passwordFile: string }[];
}

/** What `lab up --json` prints and `lab status` reads. */
export interface LabInfo {
  dir: string;
  topology: string;
  temporal: { address: string; namespace: string; uiUrl: string; dbFile: string };
  endpoints: LabEndpoint[];
  /** A worker configuration for these endpoints, usable as is by `quickmig worker --config`. */
  workerConfig: string;
}

interface LabState {
  info: LabInfo;
  processes: LabProcess[];
  startedAt: string;
}

/** Options of {@link labUp}. */
export interface LabUpOptions {
  /** Lab folder. Default `.quickmig/lab` under the current directory. */
  dir?: string;
  /** Topology file. Default lab/topology.json. */
  topology?: string;
  /** Temporal namespace. Default `default`. */
  namespace?: string;
  /** How long to wait for every server to answer. Default 120 s. */
  timeoutMs?: number;
  /** Progress lines (for the CLI); default: silent. */
  log?: (line: string) => void;
}

export { defaultLabDir } from '../config/lab-paths';

const MARKER = '.quickmig-lab';
const searchAttributes = Object.values(SEARCH_ATTRIBUTES);

/** `KEYWORD_LIST` → `KeywordList`: how the `temporal` CLI spells a search attribute type. */
function cliType(type: string): string {
  return type.toLowerCase().replace(/(^|_)([a-z])/g, (_, _sep: string, c: string) => c.toUpperCase());
}

function readState(dir: string): LabState | undefined {
  if (!existsSync(labStatePath(dir))) return undefined;
  return JSON.parse(readFileSync(labStatePath(dir), 'utf8')) as LabState;
}

function writeState(dir: string, state: LabState): void {
  writeFileSync(labStatePath(dir), `${JSON.stringify(state, null, 2)}\n`);
}

function writeSecret(file: string, value: string): void {
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

interface ReadyLine {
  ready: true;
  url: string;
  thumbprint: string;
  certFile: string;
}

function startEndpoint(tools: LabTools, dir: string, spec: EndpointSpec): LabProcess {
  mkdirSync(spec.stateDir, { recursive: true });
  const specFile = join(spec.stateDir, 'spec.json');
  writeFileSync(specFile, `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o600 });
  const readyFile = join(spec.stateDir, 'ready.json');
  rmSync(readyFile, { force: true });
  return startDetached(`vcsim:${spec.name}`, tools.vcsim, ['--spec', specFile], {
    stdout: readyFile,
    stderr: join(dir, 'logs', `${spec.name}.log`),
  });
}

async function waitForEndpoint(spec: EndpointSpec, proc: LabProcess, timeoutMs: number): Promise<ReadyLine> {
  const readyFile = join(spec.stateDir, 'ready.json');
  const ready = await waitFor(
    `vSphere endpoint ${spec.name}`,
    async () => {
      const text = existsSync(readyFile) ? readFileSync(readyFile, 'utf8').trim() : '';
      return text ? (JSON.parse(text.split('\n')[0] as string) as ReadyLine) : undefined;
    },
    { timeoutMs, process: proc },
  );
  await waitFor(
    `vSphere endpoint ${spec.name} login`,
    () => probeVsphere(ready.url, ready.certFile, spec.username, spec.password).then(() => true),
    { timeoutMs, process: proc },
  );
  return ready;
}

/** Starts the lab; on any failure stops what it had started and throws a {@link LabError}. */
export async function labUp(options: LabUpOptions = {}): Promise<LabInfo> {
  const dir = resolve(options.dir ?? defaultLabDir());
  const log = options.log ?? (() => {});
  const timeoutMs = options.timeoutMs ?? 120_000;
  const namespace = options.namespace ?? 'default';
  const previous = readState(dir);
  if (previous?.processes.some(isRunning)) {
    throw new LabError(
      `A lab is already running in ${dir}. Stop it first with: quickmig lab down --dir ${dir}`,
    );
  }
  const topologyFile = resolve(options.topology ?? DEFAULT_TOPOLOGY);
  const topology = loadTopology(topologyFile);
  const tools = ensureTools();

  // A lab starts fresh: the previous run's files, inventory and workflow history go. Only a folder
  // that a lab made (it carries the marker) is ever removed.
  if (existsSync(dir) && readdirSync(dir).length > 0 && !existsSync(join(dir, MARKER))) {
    throw new LabError(`${dir} is not empty and is not a quickmig lab folder; choose another --dir`);
  }
  for (let attempt = 1; ; attempt++) {
    resetDir(dir);
    try {
      return await startLab(dir, topologyFile, topology, tools, { namespace, timeoutMs, log });
    } catch (error) {
      // Another program can still bind a picked port before the lab's server does; new ports then.
      if (attempt >= PORT_ATTEMPTS || !/address already in use/i.test((error as Error).message)) throw error;
      log(`a port was taken before the lab could bind it; starting again on other ports`);
    }
  }
}

const PORT_ATTEMPTS = 3;

/** Empties the lab folder and lays out its subfolders (the caller checked that it is a lab's). */
function resetDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, MARKER),
    'This folder belongs to a quickmig lab; `quickmig lab up` recreates it.\n',
  );
  for (const sub of ['logs', 'secrets', 'endpoints']) mkdirSync(join(dir, sub), { recursive: true });
  chmodSync(join(dir, 'secrets'), 0o700);
}

/** One attempt at starting the lab's processes on freshly picked ports. */
async function startLab(
  dir: string,
  topologyFile: string,
  topology: Topology,
  tools: LabTools,
  { namespace, timeoutMs, log }: { namespace: string; timeoutMs: number; log: (line: string) => void },
): Promise<LabInfo> {
  const [grpcPort, uiPort, httpPort, metricsPort, ...endpointPorts] = await freePorts(
    4 + topology.endpoints.length,
  );
  const state: LabState = {
    startedAt: new Date().toISOString(),
    processes: [],
    info: {
      dir,
      topology: topologyFile,
      temporal: {
        address: `127.0.0.1:${grpcPort}`,
        namespace,
        uiUrl: `http://127.0.0.1:${uiPort}`,
        dbFile: join(dir, 'temporal.db'),
      },
      endpoints: [],
      workerConfig: labWorkerConfigPath(dir),
    },
  };
  try {
    log(`starting Temporal dev server on ${state.info.temporal.address} (UI ${state.info.temporal.uiUrl})`);
    const temporal = startDetached(
      'temporal',
      tools.temporal,
      [
        'server',
        'start-dev',
        '--ip',
        '127.0.0.1',
        '--port',
        String(grpcPort),
        '--ui-port',
        String(uiPort),
        '--http-port',
        String(httpPort),
        '--metrics-port',
        String(metricsPort),
        '--db-filename',
        state.info.temporal.dbFile,
        '--namespace',
        namespace,
        '--log-level',
        'warn',
        ...searchAttributes.flatMap((a) => ['--search-attribute', `${a.name}=${cliType(a.type)}`]),
      ],
      { stdout: join(dir, 'logs', 'temporal.log'), stderr: join(dir, 'logs', 'temporal.log') },
    );
    state.processes.push(temporal);
    writeState(dir, state);

    const specs = topology.endpoints.map((ep, i) =>
      endpointSpec(topology, ep, dir, {
        port: endpointPorts[i] as number,
        password: randomBytes(18).toString('base64url'),
        controlToken: randomBytes(24).toString('hex'),
        userPassword: () => randomBytes(18).toString('base64url'),
      }),
    );
    const started = specs.map((spec) => {
      log(`starting vSphere ${spec.kind} endpoint ${spec.name} on ${spec.listen}`);
      const proc = startEndpoint(tools, dir, spec);
      state.processes.push(proc);
      return proc;
    });
    writeState(dir, state);

    const readies = await Promise.all(
      specs.map((spec, i) => waitForEndpoint(spec, started[i] as LabProcess, timeoutMs)),
    );
    specs.forEach((spec, i) => {
      const ready = readies[i] as ReadyLine;
      const passwordFile = join(dir, 'secrets', `${spec.name}.password`);
      const tokenFile = join(dir, 'secrets', `${spec.name}.control-token`);
      writeSecret(passwordFile, spec.password);
      writeSecret(tokenFile, spec.controlToken);
      const users = spec.users.map((u) => {
        const file = join(
          dir,
          'secrets',
          `${spec.name}.user.${u.name.replace(/[^A-Za-z0-9._-]/g, '_')}.password`,
        );
        writeSecret(file, u.password);
        return { name: u.name, passwordFile: file };
      });
      state.info.endpoints.push({
        name: spec.name,
        kind: spec.kind,
        url: ready.url,
        username: spec.username,
        credentials: { passwordFile },
        thumbprint: ready.thumbprint,
        certFile: ready.certFile,
        control: { url: new URL('/quickmig', ready.url).href, tokenFile },
        profile: effectiveProfile(spec),
        ...(users.length > 0 ? { users } : {}),
      });
    });

    const attributes = searchAttributes.map((a) => a.name);
    await waitFor(
      'Temporal server',
      () => probeTemporal(state.info.temporal.address, namespace, attributes).then(() => true),
      {
        timeoutMs,
        process: temporal,
      },
    );
    await waitFor('Temporal Web UI', () => probeHttpPage(state.info.temporal.uiUrl).then(() => true), {
      timeoutMs,
      process: temporal,
    });
    writeWorkerConfig(state.info);
    writeState(dir, state);
    log('lab is up');
    return state.info;
  } catch (error) {
    await Promise.all(state.processes.map((p) => stopProcess(p)));
    rmSync(labStatePath(dir), { force: true });
    throw error instanceof LabError
      ? error
      : new LabError(`lab up failed: ${(error as Error).message}`, { cause: error });
  }
}

/** Writes the worker configuration (src/config format) for the lab's endpoints; secrets by reference. */
function writeWorkerConfig(info: LabInfo): void {
  const config = {
    taskQueue: DEFAULT_TASK_QUEUE,
    temporal: { address: info.temporal.address, namespace: info.temporal.namespace },
    endpoints: Object.fromEntries(
      info.endpoints.map((ep) => [
        ep.name,
        {
          url: ep.url,
          username: ep.username,
          passwordFile: ep.credentials.passwordFile,
          tls: { thumbprint: ep.thumbprint },
        },
      ]),
    ),
  };
  writeFileSync(info.workerConfig, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}

/** A process of the lab and whether it still runs. */
export interface LabProcessStatus {
  role: string;
  pid: number;
  running: boolean;
  log: string;
}

/** What `lab status` shows. */
export interface LabStatus {
  dir: string;
  up: boolean;
  startedAt?: string;
  info?: LabInfo;
  processes: LabProcessStatus[];
}

/** Reads the lab's state and checks which of its processes still run. */
export function labStatus(dir: string = defaultLabDir()): LabStatus {
  const state = readState(resolve(dir));
  if (!state) return { dir: resolve(dir), up: false, processes: [] };
  const processes = state.processes.map((p) => ({
    role: p.role,
    pid: p.pid,
    running: isRunning(p),
    log: p.log,
  }));
  return {
    dir: resolve(dir),
    up: processes.length > 0 && processes.every((p) => p.running),
    startedAt: state.startedAt,
    info: state.info,
    processes,
  };
}

/** Options of {@link labDown}. */
export interface LabDownOptions {
  /**
   * Remove the lab's folder afterwards (datastores, logs, Temporal's database: what `lab up` created).
   * Only a folder that carries the lab's marker is removed. Default false: the files stay for inspection.
   */
  removeFiles?: boolean;
}

/**
 * Stops every process the lab started (simulators first, then Temporal); removes its folder when asked.
 * Returns the processes it stopped and whether the folder was removed.
 */
export async function labDown(
  dir: string = defaultLabDir(),
  options: LabDownOptions = {},
): Promise<{ stopped: LabProcessStatus[]; removed: boolean }> {
  const folder = resolve(dir);
  const state = readState(folder);
  const simulators = state?.processes.filter((p) => p.role !== 'temporal') ?? [];
  await Promise.all(simulators.map((p) => stopProcess(p)));
  await Promise.all((state?.processes ?? []).filter((p) => p.role === 'temporal').map((p) => stopProcess(p)));
  rmSync(labStatePath(folder), { force: true });
  const removable = options.removeFiles === true && existsSync(join(folder, MARKER));
  if (removable) rmSync(folder, { recursive: true, force: true });
  const stopped = (state?.processes ?? []).map((p) => ({
    role: p.role,
    pid: p.pid,
    running: isRunning(p),
    log: p.log,
  }));
  return { stopped, removed: removable };
}

/**
 * Restarts one simulated endpoint on the same port, as a host reboot would: files, certificate and
 * registered VMs survive; sessions do not.
 */
export async function restartEndpoint(
  name: string,
  dir: string = defaultLabDir(),
  timeoutMs = 60_000,
): Promise<void> {
  const state = readState(resolve(dir));
  const index = state?.processes.findIndex((p) => p.role === `vcsim:${name}`) ?? -1;
  if (!state || index < 0) throw new LabError(`No running lab endpoint '${name}' in ${resolve(dir)}`);
  const old = state.processes[index] as LabProcess;
  await stopProcess(old);
  const spec = JSON.parse(
    readFileSync(join(state.info.dir, 'endpoints', name, 'spec.json'), 'utf8'),
  ) as EndpointSpec;
  const proc = startEndpoint({ temporal: '', vcsim: old.executable }, state.info.dir, spec);
  state.processes[index] = proc;
  writeState(state.info.dir, state);
  await waitForEndpoint(spec, proc, timeoutMs);
}

/**
 * Restarts the lab's Temporal dev server on the same ports with the same SQLite file, as a server
 * restart in production would: workflow histories, task queues and search attributes survive; workers
 * and clients reconnect by themselves.
 */
export async function restartTemporal(dir: string = defaultLabDir(), timeoutMs = 60_000): Promise<void> {
  const state = readState(resolve(dir));
  const index = state?.processes.findIndex((p) => p.role === 'temporal') ?? -1;
  if (!state || index < 0) throw new LabError(`No running lab Temporal server in ${resolve(dir)}`);
  const old = state.processes[index] as LabProcess;
  await stopProcess(old);
  const proc = startDetached('temporal', old.executable, old.args, { stdout: old.log, stderr: old.log });
  state.processes[index] = proc;
  writeState(state.info.dir, state);
  const attributes = searchAttributes.map((a) => a.name);
  await waitFor(
    'Temporal server',
    () =>
      probeTemporal(state.info.temporal.address, state.info.temporal.namespace, attributes).then(() => true),
    { timeoutMs, process: proc },
  );
}
