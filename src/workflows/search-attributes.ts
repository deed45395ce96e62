/**
 * Typed search attributes that every migration upserts, so `temporal workflow list --query` and the
 * Temporal UI can filter migrations by VM, phase and method on their own.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** `<endpoint>/<vm name>` of the source VM. */
export const VM_ATTRIBUTE = defineSearchAttributeKey('QuickmigVm', SearchAttributeType.KEYWORD);
/** The migration's current phase (preflight, config, bulk-copy, switchover, finalize, done, rolled-back). */
export const PHASE_ATTRIBUTE = defineSearchAttributeKey('QuickmigPhase', SearchAttributeType.KEYWORD);
/** The method chosen by the planner (vmotion, quick-migration). */
export const METHOD_ATTRIBUTE = defineSearchAttributeKey('QuickmigMethod', SearchAttributeType.KEYWORD);
/** The Quick Migration mode (smartswitch, cold), when there is one. */
export const MODE_ATTRIBUTE = defineSearchAttributeKey('QuickmigMode', SearchAttributeType.KEYWORD);

/** Every key the workflows use; the lab registers them with the Temporal server. */
export const SEARCH_ATTRIBUTE_KEYS = [
  VM_ATTRIBUTE,
  PHASE_ATTRIBUTE,
  METHOD_ATTRIBUTE,
  MODE_ATTRIBUTE,
] as const;
