import { describe, expect, it } from 'vitest';
import { globRegExp } from '../../src/activities/inventory';
import { CliError } from '../../src/cli/errors';
import { inventoryQueryOf } from '../../src/cli/inventory';
import type { PlannedVm } from '../../src/cli/plan-table';
import { planTableLines, planTotals } from '../../src/cli/plan-table';
import { formatDuration } from '../../src/cli/render';
import { renderTable, tableFormatOf } from '../../src/cli/table';
import { decidePlan } from '../../src/planner/plan';
import { closestName } from '../../src/request/schema-errors';
import { labFacts, request } from '../planner/lab';

const columns = [
  { header: 'NAME', cell: (r: { name: string; n: number }) => r.name },
  { header: 'N', cell: (r: { name: string; n: number }) => String(r.n), right: true },
];
const rows = [
  { name: 'a, "quoted"', n: 5 },
  { name: 'b|c', n: 12 },
];

describe('tables', () => {
  it('aligns text, quotes CSV cells and escapes Markdown pipes', () => {
    expect(renderTable(rows, columns, 'text', [['TOTAL', '17']])).toEqual([
      'NAME          N',
      'a, "quoted"   5',
      'b|c          12',
      '-----------  --',
      'TOTAL        17',
    ]);
    expect(renderTable(rows, columns, 'csv')).toEqual(['NAME,N', '"a, ""quoted""",5', 'b|c,12']);
    expect(renderTable(rows, columns, 'markdown', [['TOTAL', '17']])).toEqual([
      '| NAME | N |',
      '| --- | ---: |',
      '| a, "quoted" | 5 |',
      '| b\\|c | 12 |',
      '| **TOTAL** | **17** |',
    ]);
    expect(() => tableFormatOf('xml')).toThrow(/--format: use text, csv or markdown/);
  });
});

describe('inventory command line', () => {
  it('reads [ENDPOINT] [KIND], a lone kind meaning every endpoint, and refuses what is neither', () => {
    expect(inventoryQueryOf(['esx-a', 'vms'], { power: 'on' })).toEqual({
      endpoint: 'esx-a',
      kind: 'vms',
      power: 'on',
    });
    expect(inventoryQueryOf(['datastores'], {})).toEqual({ kind: 'datastores' });
    expect(inventoryQueryOf(['esx-a'], { name: 'ir-*' })).toEqual({
      endpoint: 'esx-a',
      kind: 'vms',
      name: 'ir-*',
    });
    expect(() => inventoryQueryOf(['esx-a', 'disks'], {})).toThrow(CliError);
    expect(() => inventoryQueryOf(['esx-a'], { power: 'sleeping' })).toThrow(
      /--power: use on, off or suspended/,
    );
  });

  it('matches names by glob and suggests the name meant', () => {
    expect(globRegExp('ir-*').test('ir-app01')).toBe(true);
    expect(globRegExp('ir-?pp01').test('ir-app01')).toBe(true);
    expect(globRegExp('ir.app*').test('irxapp01')).toBe(false);
    expect(closestName('esx-c', ['vcenter', 'esx-a', 'esx-b'])).toBe('esx-a');
    expect(closestName('ir-ap01', ['big01', 'ir-app01'])).toBe('ir-app01');
    expect(closestName('datacenter', ['esx-a', 'esx-b'])).toBeUndefined();
  });
});

describe('the dry-run table', () => {
  it('sums bytes and copy time over a batch and counts ready, blocked and refused VMs', () => {
    const req = request({
      source: { endpoint: 'esx-a', name: 'ir-app01' },
      target: { endpoint: 'esx-b', datastore: 'datastore1' },
    });
    const plan = decidePlan(req, labFacts(req));
    const blocked = {
      ...plan,
      blocked: true,
      findings: [{ severity: 'error' as const, code: 'name-collision', message: 'taken' }],
    };
    const planned: PlannedVm[] = [
      { vm: 'esx-a/ir-app01', target: 'esx-b datastore1', plan, error: null },
      { vm: 'esx-a/ir-app02', target: 'esx-b datastore1', plan: blocked, error: null },
      { vm: 'esx-a/nosuch', target: 'esx-b datastore1', plan: null, error: "no VM 'nosuch' on esx-a" },
    ];
    const totals = planTotals(planned);
    expect(totals).toMatchObject({ vms: 3, ready: 1, blocked: 1, refused: 1 });
    expect(totals.bytes).toBe(2 * (plan.estimate?.bytes ?? 0));
    const lines = planTableLines(planned, 'text', true);
    expect(lines[0]).toMatch(
      /^VM\s+TARGET\s+METHOD\s+MODE\s+COPY\s+EST\. COPY TIME\s+DOWNTIME SMARTSWITCH\s+DOWNTIME COLD\s+STATUS$/,
    );
    expect(lines.find((l) => l.startsWith('TOTAL'))).toMatch(/3 VM\(s\).*1 ready, 1 blocked, 1 refused/);
    // Each mode's cell is its projected service downtime: Cold's counts the guest's shutdown and boot.
    const projected = (mode: string) =>
      plan.downtime?.modes.find((m) => m.mode === mode)?.serviceDowntimeMs ?? 0;
    expect(projected('cold')).toBeGreaterThan(projected('smartswitch'));
    expect(lines[1]).toContain(`${formatDuration(projected('smartswitch'))} *`);
    expect(lines[1]).toContain(formatDuration(projected('cold')));
    expect(lines.join('\n')).toContain('BLOCKED: name-collision');
    expect(lines.join('\n')).toContain("esx-a/nosuch: refused: no VM 'nosuch' on esx-a");
    const csv = planTableLines(planned, 'csv', true);
    expect(csv).toHaveLength(5);
    expect(csv[4]).toMatch(/^TOTAL,3 VM\(s\),/);
  });

  it('flags a target datastore the VMs of a batch need more of together than is free', () => {
    const req = request({
      source: { endpoint: 'esx-a', name: 'ir-app01' },
      target: { endpoint: 'esx-b', datastore: 'datastore1' },
    });
    const base = decidePlan(req, labFacts(req));
    const needing = (gib: number) => ({
      ...base,
      estimate: {
        ...(base.estimate as NonNullable<typeof base.estimate>),
        space: [{ datastore: 'datastore1', neededBytes: gib * 2 ** 30, freeBytes: 100 * 2 ** 30 }],
      },
    });
    const planned: PlannedVm[] = [
      { vm: 'esx-a/a', target: 'esx-b datastore1', plan: needing(60), error: null },
      { vm: 'esx-a/b', target: 'esx-b datastore1', plan: needing(60), error: null },
    ];
    expect(planTotals(planned).overcommitted).toEqual([
      {
        datastore: 'esx-b datastore1',
        neededBytes: 120 * 2 ** 30,
        freeBytes: 100 * 2 ** 30,
        vms: ['esx-a/a', 'esx-a/b'],
      },
    ]);
    expect(planTableLines(planned, 'text', true).join('\n')).toContain(
      'batch: error datastore-space: esx-b datastore1 has 100.0 GiB free but esx-a/a, esx-a/b need 120.0 GiB together',
    );
    expect(planTotals(planned.slice(0, 1)).overcommitted).toEqual([]);
  });
});
