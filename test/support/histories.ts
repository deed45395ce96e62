/**
 * Records workflow histories for test/workflows/replay.test.ts: with QUICKMIG_RECORD_HISTORIES=1, an
 * integration test file stores the history of every migration it ran under test/fixtures/histories/,
 * where the replay test replays them against the current workflow code.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { projectRoot } from '../../src/lab/tools';

/** What a test file remembers of each migration it started, to record its history at the end. */
export class HistoryRecorder {
  readonly #started: { name: string; handle: { fetchHistory(): Promise<unknown> } }[] = [];

  /** Remembers a started workflow under a stable file name. */
  add(name: string, handle: { fetchHistory(): Promise<unknown> }): void {
    this.#started.push({ name, handle });
  }

  /** Stores every remembered history, when QUICKMIG_RECORD_HISTORIES=1; otherwise does nothing. */
  async record(): Promise<void> {
    if (process.env.QUICKMIG_RECORD_HISTORIES !== '1') return;
    const dir = join(projectRoot, 'test', 'fixtures', 'histories');
    mkdirSync(dir, { recursive: true });
    for (const { name, handle } of this.#started) {
      const history = (await handle.fetchHistory()) as Parameters<typeof historyToJSON>[0];
      writeFileSync(join(dir, `${name}.json`), historyToJSON(history));
    }
  }
}
