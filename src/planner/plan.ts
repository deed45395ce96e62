/**
 * The pure planner: from a request and the facts gathered by preflight, how to migrate one VM (method,
 * relocation, mode, steps), the reason for each decision, and the findings. The rules live in
 * rules.ts, the checks in findings.ts, the steps in steps.ts, the compatibility tests in compat.ts.
 */
import type { MigrationRequest } from '../request/request';
import type { Context } from './context';
import { estimateCopy } from './estimate';
import type { MigrationFacts } from './facts';
import { layoutFolders, layoutOf } from './files';
import {
  checkDatastores,
  checkDisks,
  checkHostsAndVm,
  checkLeftovers,
  checkNames,
  checkTargetFolders,
  checkWarmOptions,
} from './findings';
import type { Finding, MigrationPlan, Reason } from './model';
import {
  decideInstantRecovery,
  decideMethod,
  decideMode,
  decideRelocation,
  decideSource,
  ignoreMode,
} from './rules';
import { buildSteps } from './steps';
import { planSwitchoverOf } from './switchover';
import { checkTestRun, testSteps } from './test-run';

// The plan's types, for the importers of the planner's entry point.
export type * from './model';

/**
 * Decides how to migrate one VM: method, relocation, mode, steps, the reason for each decision, and
 * the preflight findings. Pure: same request and facts, same plan.
 */
export function decidePlan(request: MigrationRequest, facts: MigrationFacts): MigrationPlan {
  const reasons: Reason[] = [];
  const findings: Finding[] = [];
  const finding = (severity: Finding['severity'], code: string, message: string, field?: string): void => {
    findings.push({ severity, code, message, ...(field ? { field } : {}) });
  };
  const ctx: Context = {
    request,
    facts,
    sameEndpoint: request.source.endpoint === request.target.endpoint,
    reason: (rule, decision, used) => reasons.push({ rule, decision, facts: used }),
    error: (code, message, field) => finding('error', code, message, field),
    warn: (code, message, field) => finding('warning', code, message, field),
  };

  const where = decideRelocation(ctx);
  const method = decideMethod(ctx, where);
  const quick = method === 'quick-migration';
  const ruleMode = quick ? decideMode(ctx) : ignoreMode(ctx);
  // The projection per mode, the findings on how the source stops, and mode: fastest (./switchover.ts).
  const switchover = ruleMode === null ? null : planSwitchoverOf(ctx, ruleMode);
  const mode = switchover?.mode ?? ruleMode;
  checkHostsAndVm(ctx);
  checkDisks(ctx, quick);
  const space = checkDatastores(ctx, where, quick);
  const targetName = checkNames(ctx, quick);
  checkLeftovers(ctx, where, quick);
  decideSource(ctx, quick);
  checkWarmOptions(ctx, quick);
  const finalizeIr = decideInstantRecovery(ctx, where);
  if (request.options.test && quick) checkTestRun(ctx, targetName);
  const disks = where.placements.map(({ key, label, from, to }) => ({ key, label, from, to }));
  checkTargetFolders(
    ctx,
    quick,
    layoutFolders(layoutOf({ targetName, configDatastore: request.target.datastore, disks })),
  );
  const estimate = estimateCopy(
    request,
    facts,
    method,
    mode,
    {
      diskKeys: where.changedDisks.map((d) => d.key),
      hostChanges: where.hostChanges,
    },
    space,
  );

  return {
    vm: facts.vm.name,
    sourceHost: facts.vm.host,
    targetHost: facts.targetHost.name,
    method,
    relocation: where.relocation,
    mode,
    targetPowerState: facts.vm.powerState,
    targetName,
    configDatastore: request.target.datastore,
    disks,
    steps: request.options.test && quick ? testSteps(ctx) : buildSteps(ctx, quick, mode, finalizeIr),
    reasons,
    findings,
    blocked: findings.some((f) => f.severity === 'error'),
    downtime: switchover?.projection ?? null,
    estimate,
  };
}
