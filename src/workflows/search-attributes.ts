/**
 * Typed search attributes that every migration upserts, so `temporal workflow list --query` and the
 * Temporal UI can filter migrations by VM, phase and method on their own. Names and types are declared
 * once in src/request/contract.ts (the lab registers them from there).
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from '../request/contract';

const { vm, phase, method, mode, dryRun, batch } = SEARCH_ATTRIBUTES;

/** `<endpoint>/<vm name>` of the source VM. */
export const VM_ATTRIBUTE = defineSearchAttributeKey(vm.name, vm.type);
/** The migration's current phase (preflight, config, bulk-copy, switchover, finalize, done, rolled-back). */
export const PHASE_ATTRIBUTE = defineSearchAttributeKey(phase.name, phase.type);
/** The method chosen by the planner (vmotion, quick-migration). */
export const METHOD_ATTRIBUTE = defineSearchAttributeKey(method.name, method.type);
/** The Quick Migration mode (smartswitch, cold), when there is one. */
export const MODE_ATTRIBUTE = defineSearchAttributeKey(mode.name, mode.type);

/** True on a dry run (planMigration), set at its start; migrations do not carry it. */
export const DRY_RUN_ATTRIBUTE = defineSearchAttributeKey(dryRun.name, dryRun.type);

/** The batch that started the migration (set by the batch at the child's start); absent otherwise. */
export const BATCH_ATTRIBUTE = defineSearchAttributeKey(batch.name, batch.type);

/** Every key quickmig sets; the lab and the compose deployment register them with the Temporal server. */
export const SEARCH_ATTRIBUTE_KEYS = [
  VM_ATTRIBUTE,
  PHASE_ATTRIBUTE,
  METHOD_ATTRIBUTE,
  MODE_ATTRIBUTE,
  DRY_RUN_ATTRIBUTE,
  BATCH_ATTRIBUTE,
] as const;
