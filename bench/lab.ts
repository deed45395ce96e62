/**
 * The benchmark's lab: two standalone ESXi endpoints (`esx-a` → `esx-b`) with the VMs the figures need,
 * written as a generated topology file and started with the project's own `labUp`.
 *
 * - `xfer-<MiB>`: powered off, one pattern-filled disk (real bytes, so `cp` has something to copy);
 *   the source files of the transfer figures.
 * - `multi`: powered off, four pattern-filled disks; the parallel multi-disk figure.
 * - `dt-<mode>-<MiB>-r<N>`: powered on, 16 MiB of memory, one thick disk of zeros whose lab backing keeps
 *   its holes (no disk space in the lab; a thick disk is copied whole, every byte at the lab's rates, so
 *   the bulk copy and what the guest writes during it grow with the disk); the downtime figures. Their guest writers start at 0 and the benchmark sets the
 *   rate right before each migration, so every size sees the same rate for its own copy time only.
 * - `tiny-<N>`: powered on, 64 MiB memory, a 1 MiB disk; the overhead and concurrency figures.
 * - `task-01`: like a tiny VM; suspended and resumed by the task-wait figure.
 * - `sw-<mode>-<GiB>g-r<N>`: powered on, 1, 4 or 8 GiB of memory, a small sparse disk; the downtime by
 *   memory size (bench/switchover-figures.ts).
 * - `thin-<MiB>`: powered on, one thin disk about 10 % allocated in scattered runs; the thin-disk figures.
 *
 * The lab runs the `realistic` profile (lab/vcsim/profiles.json): suspend state the size of memory,
 * datastore and link rates, guests that take time to shut down, boot and resume. No figure runs on the
 * quick profile; what each endpoint enforced is read back from it (`readLabProfile`).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabEndpoint, LabInfo } from '../src/lab/lab';
import { labDown, labUp } from '../src/lab/lab';
import type { Topology, TopologyVm } from '../src/lab/topology';
import { VSphereClient } from '../src/vsphere';

/** What the lab must hold. */
export interface BenchLabSpec {
  /** Disk sizes of the single-file transfer figures, MiB. */
  transferMiB: number[];
  /** Disk sizes of the `multi` VM (copied in parallel), MiB. */
  multiDiskMiB: number[];
  /** Disk sizes of the downtime figures, MiB. */
  downtimeMiB: number[];
  /** Repetitions of each downtime figure, by variant (one VM per mode, size, variant and repetition). */
  downtimeRuns: DowntimeRuns;
  /** Repetitions of the downtime-budget figure (one VM per mode and repetition). */
  budgetRuns: number;
  /** Tiny VMs (overhead + concurrency). */
  tinyVms: number;
  /** Memory sizes of the downtime-by-memory figures, GiB; default none. */
  switchoverMemoryGiB?: number[];
  /** Repetitions of each downtime-by-memory figure (one VM per mode, size and repetition); default 1. */
  switchoverRuns?: number;
  /** Thin disk sizes of the thin-disk figures (`thin-<MiB>`, ~10 % allocated), MiB. Default: none. */
  thinMiB?: number[];
}

const CPU = {
  vendor: 'intel' as const,
  model: 'Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz',
  cores: 24,
  mhz: 3000,
  features: ['cpuid.SSE3', 'cpuid.SSE42', 'cpuid.AES', 'cpuid.AVX', 'cpuid.AVX2', 'cpuid.Intel'],
};

/**
 * A bench ESXi endpoint `name` with one host `<name>.lab` (a 24-core Xeon, 1 TiB) and one 500 GiB VMFS
 * datastore `datastore1`, holding `vms`.
 */
export function benchEsx(name: string, vms: TopologyVm[]) {
  return {
    name,
    kind: 'esx' as const,
    username: 'root',
    datastores: [{ name: 'datastore1', type: 'vmfs' as const, capacityGiB: 500 }],
    hosts: [{ name: `${name}.lab`, cpu: CPU, memoryGiB: 1024, datastores: ['datastore1'] }],
    vms,
  };
}

/** Repetitions of the downtime figures: one pass (the baseline) and warm (the headline figures). */
export interface DowntimeRuns {
  'one-pass': number;
  warm: number;
}

/** A downtime VM: one per mode, size, run and variant (one pass, or warm with a downtime budget). */
export const downtimeVm = (mode: 'smartswitch' | 'cold', mib: number, run: number, warm = false) =>
  `dt-${mode === 'smartswitch' ? 'ss' : 'cold'}-${mib}-${warm ? 'w' : 'r'}${run}`;

/** A VM of the downtime-by-memory figures: one per mode, memory size and run. */
export const switchoverVm = (mode: 'smartswitch' | 'cold', memoryGiB: number, run: number) =>
  `sw-${mode === 'smartswitch' ? 'ss' : 'cold'}-${memoryGiB}g-r${run}`;

/** The disk of every downtime-by-memory VM, MiB: small, so the figure is the switchover's, not the bulk copy's. */
export const SWITCHOVER_DISK_MIB = 64;

/** A VM of the downtime-budget figure: a guest that writes fast, on slow source storage. */
export const budgetVm = (mode: 'smartswitch' | 'cold', run: number) =>
  `budget-${mode === 'smartswitch' ? 'ss' : 'cold'}-${run}`;

/** Builds the topology for a spec. */
export function benchTopology(spec: BenchLabSpec): Topology {
  const vm = (name: string, extra: Partial<TopologyVm> & Pick<TopologyVm, 'disks'>): TopologyVm => ({
    name,
    host: 'esx-a.lab',
    datastore: 'datastore1',
    memoryMiB: 1024,
    cpus: 1,
    power: 'poweredOff',
    guestWriteBytesPerSec: 0,
    ...extra,
  });
  const vms: TopologyVm[] = [
    ...spec.transferMiB.map((mib) => vm(`xfer-${mib}`, { disks: [{ sizeMiB: mib, fill: 'pattern' }] })),
    ...(spec.multiDiskMiB.length > 0
      ? [vm('multi', { disks: spec.multiDiskMiB.map((sizeMiB) => ({ sizeMiB, fill: 'pattern' as const })) })]
      : []),
  ];
  const { 'one-pass': onePassRuns, warm: warmRuns } = spec.downtimeRuns;
  for (let run = 1; run <= Math.max(onePassRuns, warmRuns); run++) {
    for (const mib of spec.downtimeMiB) {
      for (const mode of ['smartswitch', 'cold'] as const) {
        for (const warm of [false, true]) {
          if (run > (warm ? warmRuns : onePassRuns)) continue;
          vms.push(
            vm(downtimeVm(mode, mib, run, warm), {
              power: 'poweredOn',
              // Small memory: these figures follow the disk; the downtime by memory is the sw-* VMs'.
              memoryMiB: 16,
              // Thick: a thin empty disk would move no data and make every size look the same.
              disks: [{ sizeMiB: mib, fill: 'sparse', thin: false }],
            }),
          );
        }
      }
    }
  }

  for (let run = 1; run <= spec.budgetRuns; run++) {
    for (const mode of ['smartswitch', 'cold'] as const) {
      vms.push(
        vm(budgetVm(mode, run), {
          power: 'poweredOn',
          memoryMiB: 4,
          disks: [{ sizeMiB: 96, fill: 'sparse', thin: false }],
        }),
      );
    }
  }
  for (let run = 1; run <= (spec.switchoverRuns ?? 1); run++) {
    for (const gib of spec.switchoverMemoryGiB ?? []) {
      for (const mode of ['smartswitch', 'cold'] as const) {
        vms.push(
          vm(switchoverVm(mode, gib, run), {
            power: 'poweredOn',
            memoryMiB: gib * 1024,
            disks: [{ sizeMiB: SWITCHOVER_DISK_MIB, fill: 'sparse' }],
          }),
        );
      }
    }
  }
  // Thin disks, about 10 % allocated in scattered runs, running: the thin-disk figures (bench/thin-figures.ts).
  for (const mib of spec.thinMiB ?? []) {
    vms.push(
      vm(`thin-${mib}`, { power: 'poweredOn', memoryMiB: 16, disks: [{ sizeMiB: mib, fill: 'scattered' }] }),
    );
  }
  // Suspended and resumed over and over by the task-wait figure.
  vms.push(vm('task-01', { power: 'poweredOn', memoryMiB: 64, disks: [{ sizeMiB: 1, fill: 'pattern' }] }));
  for (let i = 1; i <= spec.tinyVms; i++) {
    vms.push(
      vm(`tiny-${String(i).padStart(2, '0')}`, {
        power: 'poweredOn',
        memoryMiB: 64,
        disks: [{ sizeMiB: 1, fill: 'pattern' }],
      }),
    );
  }
  return {
    description: 'quickmig benchmark lab (generated by bench/lab.ts)',
    // Every time and rate from the realistic profile: no figure runs on a lab kinder than a real host.
    profile: 'realistic',
    endpoints: [benchEsx('esx-a', vms), benchEsx('esx-b', [])],
  };
}

/** A started benchmark lab. */
export interface BenchLab {
  info: LabInfo;
  endpoint(name: string): LabEndpoint;
  /** Local backing folder of `datastore1` on an endpoint. */
  datastoreDir(endpoint: string): string;
  connect(name: string): Promise<VSphereClient>;
  /** Stops the lab and removes its folder. */
  down(): Promise<void>;
}

/** Writes the topology and starts the lab in `dir` (replacing an earlier benchmark lab there). */
export async function startBenchLab(dir: string, spec: BenchLabSpec): Promise<BenchLab> {
  await labDown(dir).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
  const topologyDir = `${dir}-topology`;
  mkdirSync(topologyDir, { recursive: true });
  const topology = join(topologyDir, 'topology.json');
  writeFileSync(topology, `${JSON.stringify(benchTopology(spec), null, 2)}\n`);
  const info = await labUp({ dir, topology, timeoutMs: 300_000 });
  const endpoint = (name: string) => {
    const ep = info.endpoints.find((e) => e.name === name);
    if (ep === undefined) throw new Error(`the bench lab has no endpoint ${name}`);
    return ep;
  };
  return {
    info,
    endpoint,
    datastoreDir: (name) => join(info.dir, 'datastores', name, 'datastore1'),
    connect: (name) => connectTo(endpoint(name)),
    async down() {
      await labDown(dir);
      rmSync(dir, { recursive: true, force: true });
      rmSync(topologyDir, { recursive: true, force: true });
    },
  };
}

/** The password of a lab endpoint. */
export function passwordOf(ep: LabEndpoint): string {
  return readFileSync(ep.credentials.passwordFile, 'utf8').trim();
}

/** A logged-in client of a lab endpoint, pinned to its certificate. */
export function connectTo(ep: LabEndpoint): Promise<VSphereClient> {
  return VSphereClient.connect({
    url: ep.url,
    username: ep.username,
    password: passwordOf(ep),
    tls: { thumbprint: ep.thumbprint },
  });
}
