/**
 * options.test (a test migration: the copy boots isolated beside the running source): what the request
 * accepts and refuses, with the field and the fix, and the plan it makes. No server.
 */
import { describe, expect, it } from 'vitest';
import type { TestNetworkFacts } from '../../src/planner/facts';
import { decidePlan } from '../../src/planner/plan';
import type { MigrationRequestInput } from '../../src/request/request';
import { normalizeRequest } from '../../src/request/request';
import { labFacts, request, variant } from '../planner/lab';
import { problems } from './problems';

/** A move vMotion could do (one vCenter, host change): the planner's first choice without a test. */
const web01: MigrationRequestInput = {
  source: { endpoint: 'vcenter', name: 'web01' },
  target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'shared-ds' },
};

describe('options.test in a request', () => {
  it('is absent by default; true is { keep: false, keepDisks: true }; false is a real migration', () => {
    expect(normalizeRequest(web01).options.test).toBeUndefined();
    expect(normalizeRequest({ ...web01, options: { test: true } }).options.test).toEqual({
      keep: false,
      keepDisks: true,
    });
    expect(normalizeRequest({ ...web01, options: { test: {} } }).options.test).toEqual({
      keep: false,
      keepDisks: true,
    });
    expect(normalizeRequest({ ...web01, options: { test: { keep: true } } }).options.test).toEqual({
      keep: true,
      keepDisks: true,
    });
    expect(normalizeRequest({ ...web01, options: { test: { keepDisks: false } } }).options.test).toEqual({
      keep: false,
      keepDisks: false,
    });
    expect(problems({ ...web01, options: { test: { keepDisks: 'no' } } })).toContainEqual({
      path: 'options.test.keepDisks',
      message: expect.stringContaining('boolean'),
    });
    expect(normalizeRequest({ ...web01, options: { test: false } }).options).not.toHaveProperty('test');
  });

  it('refuses a value that is neither a boolean nor { keep }, naming the field', () => {
    expect(problems({ ...web01, options: { test: 'yes' } })).toEqual([
      { path: 'options.test', message: 'must be a boolean or an object (got a string)' },
    ]);
    expect(problems({ ...web01, options: { test: { kept: true } } })).toContainEqual({
      path: 'options.test.kept',
      message: expect.stringContaining('keep'),
    });
  });

  it('refuses method vmotion and a commit window, saying why and what to change', () => {
    expect(problems({ ...web01, options: { test: true, method: 'vmotion' } })).toEqual([
      {
        path: 'options.test',
        message: expect.stringMatching(
          /vMotion moves the VM itself; set options.method to 'auto' or 'quick-migration'/,
        ),
      },
    ]);
    expect(problems({ ...web01, options: { test: true, commit: { afterMs: 60_000 } } })).toEqual([
      {
        path: 'options.commit.afterMs',
        message: expect.stringContaining(
          'never switches over, so it has no commit window; remove options.commit',
        ),
      },
    ]);
  });
});

describe('options.test in the plan', () => {
  it('chooses Quick Migration where vMotion was possible, and lists the test steps with no switchover', () => {
    const req = request({ ...web01, options: { test: true } });
    const plan = decidePlan(req, labFacts(req));
    expect(plan.method).toBe('quick-migration');
    expect(plan.reasons).toContainEqual(
      expect.objectContaining({
        rule: 'R2-method-requested',
        facts: { 'options.test': true, vmotionPossible: true },
      }),
    );
    expect(plan.steps).toEqual([
      'preflight',
      'make-folders',
      'snapshot',
      'bulk-copy',
      'remove-snapshot',
      'register-test',
      'boot-test',
      'cleanup-test',
    ]);
    for (const s of ['suspend', 'stop', 'delta-copy', 'finalize-source'] as const)
      expect(plan.steps).not.toContain(s);
    expect(plan.blocked).toBe(false);
    // The projected downtime of the real run is in the plan, as for a real migration.
    expect(plan.downtime?.modes.length).toBeGreaterThan(0);
  });

  it('waits for the cleanup with keep', () => {
    const req = request({ ...web01, options: { test: { keep: true } } });
    expect(decidePlan(req, labFacts(req)).steps.slice(-2)).toEqual(['keep-test', 'cleanup-test']);
  });

  it('is blocked for a VM that is not running, naming options.test and the fix', () => {
    const req = request({ ...web01, options: { test: true } });
    const off = variant(labFacts(req), (f) => {
      f.vm.powerState = 'poweredOff';
    });
    const plan = decidePlan(req, off);
    expect(plan.blocked).toBe(true);
    expect(plan.findings).toContainEqual({
      severity: 'error',
      code: 'test-needs-running-source',
      message: expect.stringContaining('power it on, or migrate it for real (remove options.test)'),
      field: 'options.test',
    });
  });
  it('warns that the boot time is not measured when the source guest has no heartbeat', () => {
    const req = request({ ...web01, options: { test: true } });
    const plan = decidePlan(
      req,
      variant(labFacts(req), (f) => {
        f.vm.guestHeartbeat = false;
      }),
    );
    expect(plan.blocked).toBe(false);
    expect(plan.findings).toContainEqual(
      expect.objectContaining({ severity: 'warning', code: 'test-no-heartbeat', field: 'options.test' }),
    );
    const withHeartbeat = decidePlan(req, labFacts(req));
    expect(withHeartbeat.findings.map((f) => f.code)).not.toContain('test-no-heartbeat');
  });
  it('is blocked when <target name>-test exists on the target, naming the way out', () => {
    const req = request({ ...web01, options: { test: true } });
    const plan = decidePlan(
      req,
      variant(labFacts(req), (f) => {
        f.targetVmNames = [...f.targetVmNames, 'web01-test'];
      }),
    );
    expect(plan.blocked).toBe(true);
    expect(plan.findings).toContainEqual({
      severity: 'error',
      code: 'test-name-collision',
      message: expect.stringContaining("a VM named 'web01-test' already exists on the target"),
      field: 'options.test',
    });
  });
});

describe('options.test.network', () => {
  const onNet = (network: string) => request({ ...web01, options: { test: { network } } });
  const withNetwork = (req: ReturnType<typeof request>, net: Partial<TestNetworkFacts>) =>
    variant(labFacts(req), (f) => {
      f.testNetwork = {
        name: req.options.test?.network ?? '',
        kind: 'standard',
        targetHostNetworks: ['VM Network', 'test-isolated'],
        sourceNetworks: ['VM Network'],
        ...net,
      };
    });

  it('is kept by the request, and refused when empty, too long or holding a control character', () => {
    expect(
      normalizeRequest({ ...web01, options: { test: { network: 'test-isolated' } } }).options.test,
    ).toEqual({ keep: false, keepDisks: true, network: 'test-isolated' });
    expect(problems({ ...web01, options: { test: { network: '' } } })).toContainEqual({
      path: 'options.test.network',
      message: 'must not be empty',
    });
    expect(problems({ ...web01, options: { test: { network: 'n'.repeat(81) } } })).toContainEqual({
      path: 'options.test.network',
      message: 'must be at most 80 characters',
    });
    expect(problems({ ...web01, options: { test: { network: 'test\u0000net' } } })).toContainEqual({
      path: 'options.test.network',
      message: expect.stringContaining('U+0000 (NUL)'),
    });
  });

  it('plans a test on a standard port group of the target host that the source is not on', () => {
    const req = onNet('test-isolated');
    const plan = decidePlan(req, withNetwork(req, {}));
    expect(plan.blocked).toBe(false);
    expect(plan.findings.map((f) => f.code).filter((c) => c.startsWith('test-network'))).toEqual([]);
  });

  it('is blocked for a network the target host lacks, naming the networks it has', () => {
    const req = onNet('lab-isolated');
    const plan = decidePlan(req, withNetwork(req, { kind: null }));
    expect(plan.blocked).toBe(true);
    expect(plan.findings).toContainEqual({
      severity: 'error',
      code: 'test-network-not-found',
      message: expect.stringMatching(
        /has no network 'lab-isolated' \(its networks: 'VM Network', 'test-isolated'\); name an isolated port group of that host/,
      ),
      field: 'options.test.network',
    });
  });

  it("is blocked for a network the source's adapters are on: the copy's addresses would clash", () => {
    const req = onNet('VM Network');
    const plan = decidePlan(req, withNetwork(req, {}));
    expect(plan.blocked).toBe(true);
    expect(plan.findings).toContainEqual({
      severity: 'error',
      code: 'test-network-is-source-network',
      message: expect.stringContaining(
        "web01's adapters are on 'VM Network': the test VM keeps their MAC addresses and its guest their IP addresses",
      ),
      field: 'options.test.network',
    });
  });

  it('plans a test on a distributed port group of the target host', () => {
    const req = onNet('dvpg-test');
    const plan = decidePlan(
      req,
      withNetwork(req, { kind: 'distributed', targetHostNetworks: ['dvpg-test'] }),
    );
    expect(plan.blocked).toBe(false);
  });
});
