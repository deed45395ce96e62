/**
 * Shared helpers of the reliability suite: estates of small VMs, a `quickmig worker` process that can be
 * killed with SIGKILL and started again, what the estate must look like after a migration or a
 * rollback, a seeded PRNG, and the matrix each file records (RELIABILITY.md quotes its counts).
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { Client, Connection } from '@temporalio/client';
import { QuickmigClient } from '../../src/client/migrations';
import type { LabCall } from '../../src/lab/control';
import type { LabInfo } from '../../src/lab/lab';
import { projectRoot } from '../../src/lab/tools';
import type { Topology } from '../../src/lab/topology';
import { DEFAULT_TOPOLOGY } from '../../src/lab/topology';
import type { VmFacts, VSphereClient } from '../../src/vsphere';
import { controlOf, stopPrivateLab } from '../support/lab';
import { connect } from '../vsphere/helpers';

/** QUICKMIG_SOAK=1 runs the long matrix (more seeds, every crash point, repeated). */
export const SOAK = process.env.QUICKMIG_SOAK === '1';

type VmSpec = NonNullable<Topology['endpoints'][number]['vms']>[number];

/** A small running VM on esx-a (two disks, so a copy has files finishing at different times). */
export function smallVm(name: string, extra: Partial<VmSpec> = {}): VmSpec {
  return {
    name,
    host: 'esx-a.lab',
    datastore: 'datastore1',
    memoryMiB: 1024,
    cpus: 1,
    power: 'poweredOn',
    disks: [{ sizeMiB: 16 }, { sizeMiB: 8 }],
    guestWriteBytesPerSec: 16384,
    ...extra,
  } as VmSpec;
}

/**
 * The default topology (vcenter, esx-a, esx-b) with these VMs added on esx-a and a nearly full datastore
 * `tiny` (20 MiB) on esx-b; written to a temporary file for startPrivateLab.
 */
export function topologyWith(vms: VmSpec[]): string {
  const topology = JSON.parse(readFileSync(DEFAULT_TOPOLOGY, 'utf8')) as Topology;
  const esxA = topology.endpoints.find((e) => e.name === 'esx-a') as Topology['endpoints'][number];
  esxA.vms = [...(esxA.vms ?? []), ...vms];
  const esxB = topology.endpoints.find((e) => e.name === 'esx-b') as Topology['endpoints'][number];
  esxB.datastores.push({ name: 'tiny', type: 'vmfs', capacityGiB: 0.02 } as (typeof esxB.datastores)[number]);
  (esxB.hosts[0] as { datastores: string[] }).datastores.push('tiny');
  const file = join(mkdtempSync(join(tmpdir(), 'quickmig-reliability-')), 'topology.json');
  writeFileSync(file, JSON.stringify(topology));
  return file;
}

/** A `quickmig worker` child process on a task queue of its own; `kill9` and `start` as often as needed. */
export class WorkerProcess {
  readonly taskQueue = `rel-${randomUUID().slice(0, 8)}`;
  readonly configFile: string;
  child: ChildProcess | undefined;
  /** Everything every incarnation wrote (stdout and stderr). */
  log = '';
  starts = 0;

  constructor(
    readonly lab: LabInfo,
    readonly extraConfig: Record<string, unknown> = {},
    readonly env: Record<string, string> = {},
  ) {
    const config = JSON.parse(readFileSync(lab.workerConfig, 'utf8')) as Record<string, unknown>;
    this.configFile = join(lab.dir, `worker-${this.taskQueue}.json`);
    writeFileSync(this.configFile, JSON.stringify({ ...config, ...extraConfig, taskQueue: this.taskQueue }), {
      mode: 0o600,
    });
  }

  /** Starts the worker and waits until it polls. */
  async start(): Promise<void> {
    const env: NodeJS.ProcessEnv = { ...process.env, ...this.env };
    env.TEMPORAL_ADDRESS = this.lab.temporal.address;
    env.TEMPORAL_NAMESPACE = this.lab.temporal.namespace;
    delete env.QUICKMIG_CONFIG;
    const child = spawn(
      process.execPath,
      [join(projectRoot, 'bin', 'quickmig.js'), 'worker', '--config', this.configFile],
      {
        cwd: projectRoot,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    this.starts++;
    let mine = '';
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker did not start:\n${mine}`)), 90_000);
      const onData = (d: Buffer) => {
        this.log += d.toString();
        mine += d.toString();
        if (/Worker state changed.*RUNNING/.test(mine)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`worker exited with ${code}:\n${mine}`));
      });
    });
    await ready;
  }

  /** kill -9 of this worker's process (by its pid), and waits until it is gone. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('close', resolve));
    process.kill(child.pid as number, 'SIGKILL');
    await gone;
    this.child = undefined;
  }

  /** SIGTERM (graceful), then SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('close', resolve));
    process.kill(child.pid as number, 'SIGTERM');
    const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
    this.child = undefined;
  }
}

/** A Temporal client and the quickmig client API for a worker's task queue. */
export async function clientsFor(
  lab: LabInfo,
  taskQueue: string,
  extra: { dataConverter?: Client['options']['dataConverter'] } = {},
): Promise<{ temporal: Client; quickmig: QuickmigClient; close(): Promise<void> }> {
  const connection = await Connection.connect({ address: lab.temporal.address });
  const temporal = new Client({ connection, namespace: lab.temporal.namespace, ...extra });
  return {
    temporal,
    quickmig: new QuickmigClient(temporal, { taskQueue, address: lab.temporal.address }),
    close: () => connection.close(),
  };
}

/** The clients of {@link clientsFor}. */
export type Clients = Awaited<ReturnType<typeof clientsFor>>;

/**
 * Starts a `quickmig worker` on `lab` (with `extraConfig` over the lab's configuration) and connects the
 * clients for its task queue and the estate checks: what each reliability file runs against. A worker that
 * fails to start is stopped before the error is thrown, so no process outlives the file.
 */
export async function workerRig(
  lab: LabInfo,
  extraConfig: Record<string, unknown> = {},
): Promise<{ worker: WorkerProcess; clients: Clients; estate: Estate }> {
  const worker = new WorkerProcess(lab, extraConfig);
  try {
    await worker.start();
    return { worker, clients: await clientsFor(lab, worker.taskQueue), estate: new Estate(lab) };
  } catch (error) {
    await worker.stop();
    throw error;
  }
}

/** Stops what {@link workerRig} started and takes the lab down; any part may be missing (a setup that failed). */
export async function tearDownRig(parts: {
  lab?: LabInfo | undefined;
  worker?: WorkerProcess | undefined;
  clients?: Clients | undefined;
  estate?: Estate | undefined;
}): Promise<void> {
  await parts.worker?.stop();
  await parts.clients?.close();
  await parts.estate?.close();
  if (parts.lab) await stopPrivateLab(parts.lab.dir);
}

/** Read access to a lab's inventory and files, for the checks after each case. */
export class Estate {
  readonly clients = new Map<string, VSphereClient>();
  constructor(readonly lab: LabInfo) {}

  async client(endpoint: string): Promise<VSphereClient> {
    let c = this.clients.get(endpoint);
    if (!c) {
      c = await connect(this.lab, endpoint);
      this.clients.set(endpoint, c);
    }
    return c;
  }

  /** VMs whose name starts with `prefix` on an endpoint. */
  /** The VM named `name` and the names a migration gives it (`<name>_migrated`, `<name>-quickmig-<id>`). */
  async vms(endpoint: string, name: string): Promise<VmFacts[]> {
    const c = await this.client(endpoint);
    const ours = (n: string) => n === name || n === `${name}_migrated` || n.startsWith(`${name}-quickmig-`);
    const items = (await c.inventory.listVms()).filter((v) => ours(v.name));
    return c.facts.vms(items.map((v) => v.ref));
  }

  async vm(endpoint: string, name: string): Promise<VmFacts | undefined> {
    return (await this.vms(endpoint, name)).find((v) => v.name === name);
  }

  /** The local folder behind a datastore of the lab. */
  datastoreDir(endpoint: string, datastore: string): string {
    if (datastore === 'IR-NFS') return join(this.lab.dir, 'nfs', 'vpower-nfs');
    return join(this.lab.dir, 'datastores', endpoint, datastore);
  }

  /** Mutating calls every endpoint received after the marks (all when none). */
  async calls(marks: Record<string, number> = {}): Promise<Record<string, LabCall[]>> {
    const out: Record<string, LabCall[]> = {};
    for (const ep of this.lab.endpoints)
      out[ep.name] = await controlOf(this.lab, ep.name).calls(marks[ep.name] ?? 0);
    return out;
  }

  /** The latest call sequence number of every endpoint. */
  async marks(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [name, calls] of Object.entries(await this.calls())) out[name] = calls.at(-1)?.seq ?? 0;
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
  }
}

export async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const DELTA = /-\d{6}(-delta)?\.vmdk$/;
/** Snapshot state files. Known finding (RELIABILITY.md): the migration snapshot's `.vmsn` is copied to the target and stays there. */
const SNAPSHOT_STATE = /\.vmsn$/;

/**
 * What a completed migration of `name` from esx-a to esx-b datastore1 must leave: exactly one target VM
 * (no temporary name left), running as the source did, without snapshots or delta files; the source
 * unregistered with its snapshot merged; every flat extent byte-equal on both sides; every verified file
 * with equal hashes. Returns a list of problems (empty: all good).
 */
export async function checkCompleted(
  estate: Estate,
  name: string,
  result: {
    verified: { sha256Source: string | null; sha256Target: string | null; target: string }[];
    target: { powerState: string };
  },
  expectedPower = 'poweredOn',
): Promise<string[]> {
  const problems: string[] = [];
  const targets = await estate.vms('esx-b', name);
  if (targets.length !== 1 || targets[0]?.name !== name)
    problems.push(`target VMs named ${name}*: ${targets.map((v) => v.name).join(', ') || 'none'}`);
  const target = targets[0];
  if (target && target.powerState !== expectedPower) problems.push(`target is ${target.powerState}`);
  if (target && target.snapshots.length > 0)
    problems.push(`target has ${target.snapshots.length} snapshot(s)`);
  if (target?.disks.some((d) => d.chain.length !== 1)) problems.push('target disk chains not consolidated');
  if (result.target.powerState !== expectedPower)
    problems.push(`result says target ${result.target.powerState}`);
  const sources = await estate.vms('esx-a', name);
  if (sources.length > 0) problems.push(`source still registered: ${sources.map((v) => v.name).join(', ')}`);
  for (const f of result.verified)
    if (f.sha256Source !== f.sha256Target) problems.push(`hash mismatch ${f.target}`);
  const srcDir = join(estate.datastoreDir('esx-a', 'datastore1'), name);
  const tgtDir = join(estate.datastoreDir('esx-b', 'datastore1'), name);
  const srcFiles = existsSync(srcDir) ? readdirSync(srcDir) : [];
  const tgtFiles = existsSync(tgtDir) ? readdirSync(tgtDir) : [];
  if (srcFiles.some((f) => SNAPSHOT_STATE.test(f)))
    problems.push(`source keeps snapshot state: ${srcFiles.filter((f) => SNAPSHOT_STATE.test(f))}`);
  if (srcFiles.some((f) => DELTA.test(f)))
    problems.push(`source keeps snapshot files: ${srcFiles.filter((f) => DELTA.test(f))}`);
  if (tgtFiles.some((f) => DELTA.test(f)))
    problems.push(`target keeps delta files: ${tgtFiles.filter((f) => DELTA.test(f))}`);
  for (const flat of srcFiles.filter((f) => f.endsWith('-flat.vmdk'))) {
    if (!tgtFiles.includes(flat)) problems.push(`${flat} missing on the target`);
    else if ((await sha256(join(srcDir, flat))) !== (await sha256(join(tgtDir, flat))))
      problems.push(`${flat} differs between source and target`);
  }
  if (srcFiles.filter((f) => f.endsWith('-flat.vmdk')).length === 0)
    problems.push('no flat extent on the source');
  return problems;
}

/**
 * What a rolled-back migration of `name` must leave: the source registered on esx-a in its original
 * power state, no snapshot, one file per disk chain; nothing of it on esx-b (no VM, no folder).
 */
export async function checkRolledBack(
  estate: Estate,
  name: string,
  power = 'poweredOn',
  targetDatastore = 'datastore1',
): Promise<string[]> {
  const problems: string[] = [];
  const source = await estate.vm('esx-a', name);
  if (!source) problems.push('source not registered');
  else {
    if (source.powerState !== power) problems.push(`source is ${source.powerState}, was ${power}`);
    if (source.snapshots.length > 0)
      problems.push(`source keeps snapshots ${source.snapshots.map((s) => s.name)}`);
    if (source.disks.some((d) => d.chain.length !== 1)) problems.push('source disk chain not merged');
  }
  const targets = await estate.vms('esx-b', name);
  if (targets.length > 0) problems.push(`target VMs left: ${targets.map((v) => v.name).join(', ')}`);
  if (existsSync(join(estate.datastoreDir('esx-b', targetDatastore), name)))
    problems.push('target folder left');
  return problems;
}

/** Polls `check` every 100 ms until it returns a value; throws after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const value = await check().catch((error: unknown) => {
      last = error;
      return undefined;
    });
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}${last === undefined ? '' : ` (last error: ${last instanceof Error ? last.message : String(last)})`}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The pending activity of that type when it runs (state STARTED), with its decoded heartbeat. */
export async function runningActivity(
  handle: WorkflowHandle,
  type: string,
): Promise<{ attempt: number; heartbeat: unknown } | undefined> {
  const d = await handle.describe();
  const a = (d.raw.pendingActivities ?? []).find((p) => p.activityType?.name === type && p.state === 2);
  if (!a) return undefined;
  const payload = a.heartbeatDetails?.payloads?.[0];
  const heartbeat = payload?.data ? JSON.parse(Buffer.from(payload.data).toString('utf8')) : undefined;
  return { attempt: a.attempt ?? 1, heartbeat };
}

/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One row of the reliability matrix. */
export interface MatrixRow {
  area: string;
  case: string;
  passed: boolean;
  ms: number;
  detail?: string;
  /** Facts of the case recorded whatever its outcome (a soak seed's faults, retries, lab). */
  facts?: Record<string, unknown>;
}

/** Collects a file's rows and writes them to .quickmig/reliability/<area>.json (RELIABILITY.md quotes them). */
export class Matrix {
  readonly rows: MatrixRow[] = [];
  constructor(readonly area: string) {}

  /** Runs one case, records it (with `facts()` read once it settled), rethrows its failure. */
  async run<T>(
    name: string,
    fn: () => Promise<T>,
    detail?: (value: T) => string,
    facts?: () => Record<string, unknown>,
  ): Promise<T> {
    const started = Date.now();
    try {
      const value = await fn();
      this.rows.push({
        area: this.area,
        case: name,
        passed: true,
        ms: Date.now() - started,
        ...(detail ? { detail: detail(value) } : {}),
        ...(facts ? { facts: facts() } : {}),
      });
      return value;
    } catch (error) {
      this.rows.push({
        area: this.area,
        case: name,
        passed: false,
        ms: Date.now() - started,
        detail: String((error as Error).message).slice(0, 300),
        ...(facts ? { facts: facts() } : {}),
      });
      throw error;
    }
  }

  /** Writes the rows (and, when given, facts of the whole run to `<area>[-soak].run.json`). */
  write(run?: Record<string, unknown>): void {
    const dir = join(projectRoot, '.quickmig', 'reliability');
    const base = join(dir, `${this.area}${SOAK ? '-soak' : ''}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${base}.json`, `${JSON.stringify(this.rows, null, 2)}\n`);
    if (run) writeFileSync(`${base}.run.json`, `${JSON.stringify(run, null, 2)}\n`);
    const passed = this.rows.filter((r) => r.passed).length;
    process.stdout.write(`reliability matrix: ${this.area}: ${this.rows.length} tried, ${passed} passed\n`);
  }
}

/**
 * Stops the guest writer of `vm` as soon as its migration snapshot exists, so the delta holds writes but
 * the copied `.vmx` carries rate 0 and the target does not write after it starts: then the target's disks
 * must equal the source's byte for byte. Resolves when done (or after `timeoutMs`).
 */
export async function quietAfterSnapshot(estate: Estate, vm: string, timeoutMs = 120_000): Promise<void> {
  await waitUntil(
    `${vm}'s migration snapshot`,
    async () => {
      const facts = await estate.vm('esx-a', vm);
      return facts?.snapshots.some((s) => s.name.startsWith('quickmig-'));
    },
    timeoutMs,
  ).catch(() => undefined);
  await controlOf(estate.lab, 'esx-a')
    .setGuestRate(vm, 0)
    .catch(() => undefined);
}
