/** Whether vSphere can move the VM itself (vMotion), and whether the target host's CPU can run it. */

import { list } from './context';
import type { MigrationFacts, PlannerHost } from './facts';
import type { FactValue } from './model';

/** Whether vSphere can do the move itself, and if not, each missing fact in words. */
export function vmotionAvailability(
  facts: MigrationFacts,
  hostChanges: boolean,
  datastoreChanges: boolean,
): { possible: boolean; missing: string[]; facts: Record<string, FactValue> } {
  const { source, sourceHost, targetHost } = facts;
  const licence = source.licenseFeatures.map((f) => f.toLowerCase());
  const missing: string[] = [];
  if (source.kind !== 'vcenter') {
    missing.push(`source endpoint ${source.name} is a standalone ESXi host, not a vCenter`);
  } else if (!facts.sameVCenter) {
    missing.push(`source ${source.name} and target ${facts.target.name} are not the same vCenter`);
  } else {
    const hosts = sourceHost.name === targetHost.name ? [sourceHost] : [sourceHost, targetHost];
    if (hostChanges) {
      for (const h of hosts.filter((h) => !h.vmotion)) missing.push(`host ${h.name} is not vMotion-capable`);
      if (!licence.includes('vmotion')) missing.push(`the licence of ${source.name} lacks 'vmotion'`);
    }
    if (datastoreChanges) {
      for (const h of hosts.filter((h) => !h.storageVMotion))
        missing.push(`host ${h.name} does not support Storage vMotion`);
      if (!licence.includes('storagevmotion'))
        missing.push(`the licence of ${source.name} lacks 'storagevmotion'`);
    }
  }
  return {
    possible: missing.length === 0,
    missing,
    facts: {
      sourceKind: source.kind,
      sameVCenter: facts.sameVCenter,
      licenseFeatures: source.licenseFeatures,
      sourceHostVMotion: sourceHost.vmotion,
      targetHostVMotion: targetHost.vmotion,
      sourceHostStorageVMotion: sourceHost.storageVMotion,
      targetHostStorageVMotion: targetHost.storageVMotion,
    },
  };
}

/** Feature values that mean "not present" in a host's featureCapability. */
const ABSENT = new Set(['', '0', 'false']);

/** Same vendor, and every CPU feature the VM uses present on the target host. */
export function cpuCompatibility(
  required: readonly string[],
  sourceHost: PlannerHost,
  targetHost: PlannerHost,
): { compatible: boolean; missing: string[]; summary: string } {
  const missing = required.filter((key) => ABSENT.has(targetHost.features[key] ?? ''));
  const sameVendor = sourceHost.cpuVendor.toLowerCase() === targetHost.cpuVendor.toLowerCase();
  const problems = [
    sameVendor ? '' : `CPU vendor differs (${sourceHost.cpuVendor} → ${targetHost.cpuVendor})`,
    missing.length > 0 ? `target host ${targetHost.name} lacks CPU features ${list(missing)}` : '',
  ].filter(Boolean);
  return {
    compatible: problems.length === 0,
    missing,
    summary: problems.length > 0 ? problems.join('; ') : 'CPUs compatible',
  };
}
