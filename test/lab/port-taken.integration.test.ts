/**
 * Another program binds one of the ports lab up picked before the lab's server does (a race no pick
 * can rule out). Lab up must start again on other ports instead of failing. The first pick is made
 * to hand out a port that a real listener holds; everything else is real.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { labDown, labUp } from '../../src/lab/lab';
import * as processes from '../../src/lab/processes';

const race = vi.hoisted(() => ({ taken: 0, picks: 0 }));

vi.mock('../../src/lab/processes', async (original) => {
  const real = await original<typeof processes>();
  return {
    ...real,
    freePorts: async (count: number) => {
      const ports = await real.freePorts(count);
      // the first pick's gRPC port is the one another program takes
      if (++race.picks === 1) ports[0] = race.taken;
      return ports;
    },
  };
});

const dir = mkdtempSync(join(tmpdir(), 'quickmig-port-taken-'));
let holder: Server;

afterAll(async () => {
  await labDown(dir);
  rmSync(dir, { recursive: true, force: true });
  await new Promise((resolve) => holder?.close(resolve));
});

describe('lab up when a picked port is taken', () => {
  it('starts again on other ports and says so', async () => {
    race.taken = await processes.freePort();
    holder = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => holder.listen(race.taken, '127.0.0.1', resolve));

    const lines: string[] = [];
    const info = await labUp({ dir, log: (line) => lines.push(line) });

    expect(race.picks).toBe(2);
    expect(lines).toContain('a port was taken before the lab could bind it; starting again on other ports');
    expect(info.temporal.address).not.toBe(`127.0.0.1:${race.taken}`);
    const connection = await Connection.connect({ address: info.temporal.address });
    await connection.close();
  });
});
