/**
 * Thin-disk figures (issue 17): a running VM's thin disk, about 10 % allocated in scattered runs, copied
 * esx-a → esx-b by its allocated data (src/vsphere/transfer/thin.ts) against a whole-file copy of the same
 * extent (`copyFiles`, as before), and the bytes sent again when a copy is interrupted at 60 % and
 * resumed from its completed chunks (the state a killed worker leaves in its heartbeat).
 *
 * Targets beside the figures: bytes on the wire ≤ 1.05 × allocated (plus headers); re-sent ≤ 256 MiB.
 */
import type { MoRef, ThinChunkDone, VSphereClient } from '../src/vsphere';
import { copyFiles, copyThinDisk } from '../src/vsphere';
import type { BenchLab } from './lab';
import { log, round, timed } from './measure';

/** The thin VM of these figures (bench/lab.ts creates it). */
export const thinVm = (mib: number) => `thin-${mib}`;

/** What the thin figures report. */
export interface ThinFigures {
  sizeMiB: number;
  /** Allocated bytes as change tracking reports them (64 KiB areas). */
  allocatedBytes: number;
  /** Bytes uploaded by the thin copy, extent headers and tables included. */
  wireBytes: number;
  /** wireBytes ÷ allocatedBytes; target ≤ 1.05 (+ headers). */
  wireOverAllocated: number;
  wireTarget: string;
  thinSeconds: number;
  wholeFileSeconds: number;
  /** Time of the thin copy ÷ time of the whole-file copy of the same disk. */
  timeOverWholeFile: number;
  /** Bytes of the interrupted chunk sent again after an interruption at 60 %; target ≤ 256 MiB. */
  resentBytes: number;
  resentTarget: string;
  /** Bytes of the two attempts together minus one copy's: what went over the wire twice. */
  wireTwiceBytes: number;
  chunkBytes: number;
}

async function frozen(client: VSphereClient, name: string) {
  const item = await client.inventory.findVm({ name });
  const facts = await client.facts.vm(item.ref);
  if (!facts.changeTracking) await client.disks.enableChangeTracking(item.ref);
  const snapshot: MoRef = await client.vms.createSnapshot(item.ref, { name: 'bench-thin' });
  const disk = (await client.facts.vm(item.ref)).disks[0];
  const extent = disk?.layoutFiles[0]?.find((f) => f.endsWith('-flat.vmdk'));
  if (disk === undefined || extent === undefined) throw new Error(`${name}: no flat extent`);
  return { vm: item.ref, snapshot, deviceKey: disk.key, capacityBytes: disk.capacityBytes, extent };
}

/** Runs the thin-disk figures on `thin-<sizeMiB>`. */
export async function thinFigures(
  lab: BenchLab,
  sizeMiB: number,
  chunkBytes = 64 * 2 ** 20,
): Promise<ThinFigures> {
  const a = await lab.connect('esx-a');
  const b = await lab.connect('esx-b');
  try {
    const disk = await frozen(a, thinVm(sizeMiB));
    const source = { client: a, ...disk };
    const thin = await timed(() =>
      copyThinDisk(
        source,
        { client: b, path: `[datastore1] bench-thin/${thinVm(sizeMiB)}-flat.vmdk` },
        {
          diskType: 'thin',
          chunkBytes,
        },
      ),
    );
    const whole = await timed(() =>
      copyFiles([
        {
          source: { client: a, path: disk.extent },
          target: { client: b, path: `[datastore1] bench-whole/${thinVm(sizeMiB)}-flat.vmdk` },
          size: disk.capacityBytes,
        },
      ]),
    );
    // Interrupted at 60 % of the wire bytes, then resumed from the chunks complete on the target.
    const done: ThinChunkDone[] = [];
    const abort = new AbortController();
    let sent = 0;
    let inFlight = 0;
    let total = 0;
    const target = { client: b, path: `[datastore1] bench-resume/${thinVm(sizeMiB)}-flat.vmdk` };
    await copyThinDisk(source, target, {
      diskType: 'thin',
      chunkBytes,
      signal: abort.signal,
      onChunkDone: (c) => done.push(c),
      onProgress: (p) => {
        total = p.totalBytes;
        if (!abort.signal.aborted && p.wireBytes >= 0.6 * p.totalBytes) {
          sent = p.wireBytes;
          inFlight = p.inFlight;
          abort.abort(new Error('interrupted at 60 %'));
        }
      },
    }).catch((err: unknown) => {
      if (!abort.signal.aborted) throw err;
    });
    const resumed = await copyThinDisk(source, target, {
      diskType: 'thin',
      chunkBytes,
      chunksDone: done,
      partialBytes: inFlight,
    });
    for (const dir of ['bench-thin', 'bench-whole', 'bench-resume']) {
      await b.datastores.deleteFile(`[datastore1] ${dir}`).catch(() => undefined);
    }
    await a.vms.removeSnapshot(disk.snapshot, { removeChildren: false }).catch(() => undefined);
    const report = thin.value.report;
    const figures: ThinFigures = {
      sizeMiB,
      allocatedBytes: report.allocatedBytes,
      wireBytes: report.wireBytes,
      wireOverAllocated: round(report.wireBytes / report.allocatedBytes, 4),
      wireTarget: '≤ 1.05 (+ headers)',
      thinSeconds: round(thin.seconds, 2),
      wholeFileSeconds: round(whole.seconds, 2),
      timeOverWholeFile: round(thin.seconds / whole.seconds, 3),
      resentBytes: resumed.report.resentBytes,
      resentTarget: '≤ 268435456 (256 MiB)',
      wireTwiceBytes: Math.max(0, sent + resumed.report.wireBytes - total),
      chunkBytes,
    };
    log(
      `thin ${sizeMiB} MiB: wire/allocated ${figures.wireOverAllocated}, time/whole-file ${figures.timeOverWholeFile}, re-sent after 60 % ${round(figures.resentBytes / 2 ** 20, 1)} MiB`,
    );
    return figures;
  } finally {
    await a.close();
    await b.close();
  }
}
