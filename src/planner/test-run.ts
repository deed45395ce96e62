/**
 * A test migration's plan (options.test; README "Test migration"): the copy steps of a real Quick
 * Migration up to the bulk copy, then the test VM's own steps instead of the switchover. The source is
 * snapshotted and the snapshot removed; it is never suspended or stopped.
 */
import type { Context } from './context';
import type { DiskChain, FileCopyPlan, TargetLayout, VmFileRef } from './files';
import { rewritePairs, targetPathOf } from './files';
import type { StepId } from './model';

/** The finding that tells the workflow not to wait for a heartbeat the source guest does not give. */
export const TEST_NO_HEARTBEAT = 'test-no-heartbeat';

/** The name the test copy is registered under: the target VM's name (plan.targetName) with `-test`. */
export function testVmName(vmName: string): string {
  return `${vmName}-test`;
}

/** The steps of a test migration, in the order the workflow runs them (see StepId). */
export function testSteps(ctx: Context): StepId[] {
  const keep = ctx.request.options.test?.keep === true;
  return [
    'preflight',
    'make-folders',
    'snapshot',
    'bulk-copy',
    'remove-snapshot',
    'register-test',
    'boot-test',
    ...(keep ? (['keep-test'] as const) : []),
    'cleanup-test',
  ];
}

/**
 * Findings of a test migration: it needs a running source (the copy is made from the migration
 * snapshot, which only a running VM's test is written for), and it ignores what only a switchover
 * uses.
 */
export function checkTestRun(ctx: Context, targetName: string): void {
  const { vm, targetVmNames } = ctx.facts;
  const { options } = ctx.request;
  const name = testVmName(targetName);
  if (targetVmNames.includes(name))
    ctx.error(
      'test-name-collision',
      `a VM named '${name}' already exists on the target (a test VM kept from an earlier test? 'quickmig cleanup ID' removes it); remove or rename it, or set target.name so that <name>-test is free`,
      'options.test',
    );
  if (vm.powerState !== 'poweredOn')
    ctx.error(
      'test-needs-running-source',
      `${vm.name} is ${vm.powerState}: a test migration boots a copy beside the running VM; power it on, or migrate it for real (remove options.test)`,
      'options.test',
    );
  if (vm.powerState === 'poweredOn' && !vm.guestHeartbeat)
    ctx.warn(
      TEST_NO_HEARTBEAT,
      `${vm.name} reports no guest heartbeat (VMware Tools not running): the test VM is booted and removed without waiting for its heartbeat, so its boot time is not measured`,
      'options.test',
    );
  checkTestNetwork(ctx);
  if (options.switchover === 'manual' || options.window || options.maxDowntimeMs !== undefined)
    ctx.warn(
      'test-ignores-switchover-options',
      'a test migration does not switch over: options.switchover, options.window and options.maxDowntimeMs are ignored (the projected downtime of the real run is reported)',
      'options.test',
    );
}

/**
 * options.test.network: a port group (standard or distributed) of the target host, and none that the
 * source's adapters are on (the copy keeps their MAC addresses, its guest their IP addresses).
 */
function checkTestNetwork(ctx: Context): void {
  const net = ctx.facts.testNetwork;
  const name = ctx.request.options.test?.network;
  if (name === undefined || net === undefined) return;
  const { vm, targetHost } = ctx.facts;
  const field = 'options.test.network';
  if (net.kind === null) {
    const has =
      net.targetHostNetworks.length > 0 ? net.targetHostNetworks.map((n) => `'${n}'`).join(', ') : 'none';
    ctx.error(
      'test-network-not-found',
      `the target host ${targetHost.name} has no network '${name}' (its networks: ${has}); name an isolated port group of that host (quickmig inventory ENDPOINT networks), or leave ${field} out to boot the test VM with its adapters disconnected`,
      field,
    );
  }
  if (net.sourceNetworks.includes(name))
    ctx.error(
      'test-network-is-source-network',
      `${vm.name}'s adapters are on '${name}': the test VM keeps their MAC addresses and its guest their IP addresses, which would clash with the running source there; name an isolated port group (a vSwitch without uplinks, or a VLAN of its own), or leave ${field} out to boot it with its adapters disconnected`,
      field,
    );
}

/**
 * The test copy's configuration files: the .vmx, rewritten so that each disk names the frozen level
 * under its writable top (the migration snapshot's parent, which the bulk copy put on the target)
 * instead of the delta the running source writes, and the nvram. Nothing else of the running VM is
 * copied: its deltas change while it runs, and its snapshot metadata describes a tree the copy has not.
 */
export function testConfigCopies(
  files: VmFileRef[],
  disks: DiskChain[],
  layout: TargetLayout,
  datastoreUrls: Record<string, string> = {},
): FileCopyPlan[] {
  const frozenTop = new Map(
    disks.flatMap((d) => (d.chain.length > 1 ? [[d.chain[0] as string, d.chain[1] as string]] : [])),
  );
  const mapping = files.map((f) => ({
    source: f.name,
    target: targetPathOf(frozenTop.get(f.name) ?? f.name, disks, layout),
  }));
  return files
    .filter((f) => f.type === 'config' || f.type === 'nvram')
    .map((f) => {
      const target = targetPathOf(f.name, disks, layout);
      const plan: FileCopyPlan = { source: f.name, target, size: f.size };
      if (f.type === 'config') {
        const rewrite = rewritePairs({ source: f.name, target }, mapping, datastoreUrls);
        if (rewrite.length > 0) plan.rewrite = rewrite;
      }
      return plan;
    });
}
