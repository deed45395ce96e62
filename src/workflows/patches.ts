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
