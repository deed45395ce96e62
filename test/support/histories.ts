/**
 * Records workflow histories for test/workflows/replay.test.ts: with QUICKMIG_RECORD_HISTORIES=1, an
 * integration test file stores the history of every workflow it ran under test/fixtures/histories/,
 * where the replay test replays them against the current workflow code. Beside each `<name>.json` goes
 * `<name>.id`, the workflow id, which a history does not hold and a batch derives its children's ids from.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { projectRoot } from '../../src/lab/tools';

/** The part of a workflow handle the recorder uses. */
interface RecordedHandle {
  readonly workflowId: string;
  fetchHistory(): Promise<unknown>;
}

/** What a test file remembers of each migration it started, to record its history at the end. */
export class HistoryRecorder {
  readonly #started: { name: string; handle: RecordedHandle }[] = [];

  /** Remembers a started workflow under a stable file name. */
  add(name: string, handle: RecordedHandle): void {
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
      writeFileSync(join(dir, `${name}.id`), `${handle.workflowId}\n`);
    }
  }
}
