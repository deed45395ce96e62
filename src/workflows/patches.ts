/**
 * Every `patched()` id of the workflows, in one place. A patch keeps a workflow that started before a
 * change on its old path when it replays, and takes the new path in workflows started after it.
 *
 * Retiring one: once no workflow started before the patch's commit is still running (and its stored
 * histories under test/fixtures/histories are dropped or re-recorded), replace `patched(ID)` by
 * `deprecatePatch(ID)` and keep only the new path; after no workflow from before the deprecation runs
 * either, remove the call and the id. Never reuse an id for another change.
 */

/**
 * Warm migration keeps `options.precopy.headroom` (default 20 %) under `maxDowntimeMs` and counts the
 * delta the guest still writes until the stop (quick-migration/warm.ts). Added in commit 2a172e8
 * (2026-11-26); may be deprecated once no warm migration started before that commit is running.
 * Histories recorded before it: pre-headroom-warm-*.json.
 */
export const PRECOPY_HEADROOM = 'precopy-headroom';

/**
 * Once the projection fits the budget, pre-copy rounds go on while each cuts it by a tenth
 * (quick-migration/warm.ts). Added in commit 4228602 (2026-11-26); may be deprecated once no warm
 * migration started before that commit is running. History recorded before it:
 * pre-tighten-warm-converge01.json.
 */
export const PRECOPY_TIGHTEN = 'precopy-tighten';

/**
 * A migration that preflight refuses (or that fails in preflight) ends in phase `refused` with the error
 * in its progress and the search attribute, and fails with a non-retryable ApplicationFailure typed as
 * the activity's error (RequestValidationError, UnknownEndpointError, PreflightBlockedError, NotFoundError,
 * ...) instead of the activity's failure passed through (quick-migration/index.ts). Added on branch
 * ops-b (2026-12-02); may be deprecated once no migration started before it is running.
 */
export const PREFLIGHT_REFUSAL = 'preflight-refusal';

/**
 * The switchover as on a real host (quick-migration/switchover.ts): the target's .vmx keeps the VM's
 * identity and drops ISO media on the source's datastores, a Cold source stops through a guest shutdown
 * (or as options.shutdown says), the target starts answering the moved-or-copied question, and the
 * target's guest heartbeat is awaited for the service downtime. Added on branch switchover (2026-12-02);
 * may be deprecated once no Quick Migration started before it is running.
 */
export const SWITCHOVER_TRUTH = 'switchover-truth';

/**
 * A warm Cold migration stopped through its guest projects the writes the guest makes while it shuts
 * down (the plan's shutdown term × the measured write rate): they are copied after the stop, inside the
 * downtime (quick-migration/warm.ts). Found by the benchmark on the realistic lab: a guest writing 6 MiB/s
 * during a 20 s shutdown left 120 MiB for a switchover projected at 0.7 s, measured 10.9 s. Added on
 * branch s24 (2026-12-03); may be deprecated once no warm Cold migration started before it is running.
 */
export const PRECOPY_SHUTDOWN = 'precopy-shutdown';

/**
 * The commit window (options.commit.afterMs > 0): after the switchover the source is kept off and
 * renamed but registered, and the migration waits in phase committing for the revert or commit update
 * or the window's end; source delete (or keep's unregistration) happens at commit
 * (quick-migration/commit-window.ts). Only requests with a window take the new path, so no stored
 * history meets it. Added on branch commit-window (2026-12-03); may be deprecated once no migration
 * with a commit window started before it is running.
 */
export const COMMIT_WINDOW = 'commit-window';

/**
 * A source host that stops answering after the source was stopped (quick-migration/switchover.ts,
 * copy.ts): the switchover's steps on the source retry within `switchoverRetryTimeout` when it is
 * given, then the rollback powers the source on again as soon as its host answers (retried every
 * 10 s for up to `sourceReturnTimeout`, default 24 h) instead of within the control step's budget,
 * and the failure reports the source's real downtime. Added on branch faults-switch (2026-12-03);
 * may be deprecated once no Quick Migration started before it is running.
 */
export const SOURCE_HOST_RETURN = 'source-host-return';

/**
 * A running VM's disks are compared with those at the migration snapshot right before the
 * switchover and again once the source is stopped (quick-migration/copy.ts): a disk added or removed
 * in between fails the migration before the switchover (or rolls it back, the source running again),
 * naming the disk. Adds a `vmFiles` step before the stop. Added on branch faults-switch (2026-12-03);
 * may be deprecated once no Quick Migration started before it is running.
 */
export const DISK_SET_CHECK = 'disk-set-check';

/**
 * After a running source was stopped for the switchover, its power state is checked again before and
 * after the copy of its final delta (quick-migration/switchover.ts, `assertStopped`): a source something
 * powered on again in between (an operator, a scheduled task) fails the migration with
 * SourceRestartedError and rolls back, instead of registering a target from disks that changed while
 * they were copied. Added on branch faults-guest (2026-12-03); may be deprecated once no Quick Migration
 * started before it is running.
 */
export const SOURCE_STAYS_STOPPED = 'source-stays-stopped';

/**
 * A rollback step that fails after its retries no longer stops the rollback: the steps after it still run
 * (the source is started again even when the target cannot be unregistered because a question waits on
 * it or another client's task holds it), and the failure lists what was not undone
 * (quick-migration/compensation.ts). Added on branch faults-guest (2026-12-03); may be deprecated once no
 * Quick Migration started before it is running.
 */
export const ROLLBACK_CONTINUES = 'rollback-continues';

/**
 * The test migration (options.test): copy as a real migration would, remove the snapshot, register the
 * copy as `<name>-test` with its network adapters disconnected, boot it, wait for its heartbeat, report,
 * remove it (quick-migration/test-run.ts). Only requests with options.test take the new path, so no
 * stored history meets it. Added on branch test-migration (2026-12-03); may be deprecated once no test
 * migration started before it is running.
 */
export const TEST_MIGRATION = 'test-migration';

/**
 * A kept test copy (options.test.keepDisks, planner/test-copy.ts): a test migration's cleanup keeps the
 * copied base disks with the marker quickmig-test.json, and a later Quick Migration of the same VM adopts
 * the folders and copies each disk's changes since the test's changeId only, when change tracking and the
 * kept file vouch for it (quick-migration/copy.ts, activities/thin-disks.ts). Reached only by tests
 * (options.test) and by migrations whose preflight found such a copy, so no stored history meets it.
 * Added on branch test-migration (2026-12-03); may be deprecated once no migration started before it is
 * running.
 */
export const TEST_REUSE = 'test-reuse';

/**
 * A batch admits its queued migrations by the resources each will hold (workflows/batch-admission.ts,
 * planner/admission.ts): copy streams per source and target host (limits.streamsPerHost, default 8),
 * snapshots per source datastore (limits.snapshotsPerDatastore, default 15) beside the slots, shows what
 * a queued VM waits on, and starts each migration with the copy concurrency its streams allow. Added on
 * branch admission (2026-12-03); may be deprecated once no batch started before it is running.
 */
export const RESOURCE_ADMISSION = 'resource-admission';
