/** The Temporal UI's Current Details of a migration, from its progress (no server). */
import { describe, expect, it } from 'vitest';
import type { MigrationProgress } from '../../src/workflows/definitions';
import { currentDetailsOf } from '../../src/workflows/quick-migration/details';
import { initialProgress } from '../../src/workflows/quick-migration/progress';

const progress = (over: Partial<MigrationProgress>): MigrationProgress => ({
  ...initialProgress('quickmig-esx-a-app01', {
    source: { endpoint: 'esx-a', name: 'app01' },
    target: { endpoint: 'esx-b', datastore: 'datastore1' },
  }),
  ...over,
});

describe('currentDetailsOf', () => {
  it('shows the phase and step, the bytes, and what the migration waits for', () => {
    expect(
      currentDetailsOf(
        progress({
          phase: 'awaiting-approval',
          step: 'await-switchover',
          bytesDone: 3 * 2 ** 30,
          bytesTotal: 4 * 2 ** 30,
          awaitingApproval: true,
          waitingFor: 'manual switchover',
        }),
      ).split('\n\n'),
    ).toEqual([
      '**Phase** awaiting-approval · **step** await-switchover',
      "**Bytes** 3.0 GiB of 4.0 GiB copied (in-flight bytes: the copyFiles activity's heartbeat)",
      '**Waiting for approval**: manual switchover',
    ]);
  });

  it('shows the downtime under way, then measured, and a refusal with its error', () => {
    expect(
      currentDetailsOf(progress({ phase: 'switchover', sourceStoppedAt: Date.UTC(2026, 11, 2, 20) })),
    ).toContain('**Downtime** under way: source stopped at 2026-12-02T20:00:00.000Z');
    expect(currentDetailsOf(progress({ phase: 'done', downtimeMs: 231 }))).toContain('**Downtime** 231 ms');
    expect(
      currentDetailsOf(progress({ phase: 'refused', error: "datastore 'nope' does not exist on esx-b" })),
    ).toBe("**Phase** refused · **step** preflight\n\n**Error** datastore 'nope' does not exist on esx-b");
  });
});
