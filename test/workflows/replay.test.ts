/**
 * Every stored history (test/fixtures/histories, recorded from the integration tests with
 * QUICKMIG_RECORD_HISTORIES=1: quickMigration from quick-migration and warm, migrationBatch and
 * planMigration from batch, migrationBatch with resource admission from admission) replays against today's workflow code without non-determinism: a change
 * that would break running migrations fails here, and must go through patched().
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/lab/tools';
import { migrationMetricsSinks } from '../../src/telemetry/telemetry';
import { workflowBundle } from '../support/worker';

const dir = join(projectRoot, 'test', 'fixtures', 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('stored workflow histories', () => {
  it('cover vMotion, Storage vMotion, SmartSwitch, Cold, rollback, the forced transport, warm migration, batches and plans', () => {
    const names = files.join(' ');
    for (const kind of [
      'vmotion',
      'svmotion',
      'smartswitch',
      'cold',
      'fail-',
      'forced',
      'warm-converge',
      'warm-outrun',
      'warm-window',
      'warm-tighten',
      // Recorded before the pre-copy headroom (patch 'precopy-headroom'): still judged the old way.
      'pre-headroom-warm-outrun',
      // Recorded before further rounds tightened a fitting projection (patch 'precopy-tighten').
      'pre-tighten-warm-converge',
      // migrationBatch (limits, failures, cancellation) and planMigration, from batch.integration.test.ts.
      'batch-limits',
      'batch-cancel',
      // migrationBatch with resource admission (patch 'resource-admission'), from admission.integration.test.ts.
      'batch-admission',
      'plan-',
    ])
      expect(names).toContain(kind);
  });

  it.each(files)('%s replays without non-determinism', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8')));
    // The recorded workflow id where one was stored (a batch names its children by it), else the file's.
    const idFile = join(dir, file.replace(/\.json$/, '.id'));
    const workflowId = existsSync(idFile) ? readFileSync(idFile, 'utf8').trim() : file;
    // The worker's own sinks, as in production (the SDK does not call them while a history replays).
    await Worker.runReplayHistory(
      { workflowBundle: await workflowBundle(), sinks: migrationMetricsSinks() },
      history,
      workflowId,
    );
  });
});
