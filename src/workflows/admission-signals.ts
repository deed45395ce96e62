/**
 * The signals by which a batch's migration asks the batch for a resource it holds only for a while (a
 * suspend slot on its source host, for the switchover), and the batch grants it: the protocol a shared
 * resource ledger would speak too (docs/wip-admission.md). Signals, not an Update that waits for the
 * grant: the waiting requests are the ledger's state, which survives continue-as-new; a waiting Update
 * handler would not.
 */
import { defineSignal } from '@temporalio/workflow';

/** Who asks or gives back: the migration's workflow id. */
export interface SlotHolder {
  holder: string;
}

/** A migration asks the batch (its parent) for its switchover's resources; answered by switchoverSlotGranted. */
export const requestSwitchoverSlot = defineSignal<[SlotHolder]>('requestSwitchoverSlot');
/** A migration gives its switchover's resources back (its target resumed). Idempotent. */
export const releaseSwitchoverSlot = defineSignal<[SlotHolder]>('releaseSwitchoverSlot');
/** The batch tells a migration that its switchover may start. */
export const switchoverSlotGranted = defineSignal('switchoverSlotGranted');
