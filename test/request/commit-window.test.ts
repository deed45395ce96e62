/**
 * options.commit (the commit window after a Quick Migration's switchover): what the request accepts and
 * refuses, with the field and the fix, and what the plan makes of it. No server.
 */
import { describe, expect, it } from 'vitest';
import { decidePlan } from '../../src/planner/plan';
import type { MigrationRequestInput } from '../../src/request/request';
import { normalizeRequest } from '../../src/request/request';
import { labFacts, request } from '../planner/lab';
import { problems } from './problems';

/** A move vMotion could do (one vCenter, host change): the planner's first choice without a window. */
const web01: MigrationRequestInput = {
  source: { endpoint: 'vcenter', name: 'web01' },
  target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'shared-ds' },
};

describe('options.commit in a request', () => {
  it('defaults to afterMs 0: commit at once, as before the window existed', () => {
    expect(normalizeRequest(web01).options.commit).toEqual({ afterMs: 0 });
    expect(normalizeRequest({ ...web01, options: { commit: {} } }).options.commit).toEqual({ afterMs: 0 });
    expect(
      normalizeRequest({ ...web01, options: { commit: { afterMs: 3_600_000 } } }).options.commit,
    ).toEqual({
      afterMs: 3_600_000,
    });
  });

  it('refuses a negative, fractional or over-30-day window, naming the field', () => {
    expect(problems({ ...web01, options: { commit: { afterMs: -1 } } })).toEqual([
      { path: 'options.commit.afterMs', message: expect.stringContaining('>= 0') },
    ]);
    expect(problems({ ...web01, options: { commit: { afterMs: 1.5 } } })).toEqual([
      { path: 'options.commit.afterMs', message: expect.stringContaining('integer') },
    ]);
    expect(problems({ ...web01, options: { commit: { afterMs: 31 * 86_400_000 } } })).toEqual([
      { path: 'options.commit.afterMs', message: expect.stringContaining('2592000000') },
    ]);
  });

  it('refuses an unknown property under options.commit with the one it may mean', () => {
    expect(problems({ ...web01, options: { commit: { afterMS: 1000 } } })).toEqual([
      { path: 'options.commit.afterMS', message: expect.stringContaining("did you mean 'afterMs'") },
    ]);
  });

  it('refuses a window with method vmotion, saying why and what to set instead', () => {
    const found = problems({ ...web01, options: { method: 'vmotion', commit: { afterMs: 60_000 } } });
    expect(found).toEqual([
      {
        path: 'options.commit.afterMs',
        message: expect.stringMatching(
          /applies to Quick Migration only: vMotion .* leaves no source to revert to; remove options\.commit or set options\.method to 'quick-migration'/,
        ),
      },
    ]);
    // Without a window, vmotion is fine.
    expect(() =>
      normalizeRequest({ ...web01, options: { method: 'vmotion', commit: { afterMs: 0 } } }),
    ).not.toThrow();
  });
});

describe('options.commit in the plan', () => {
  it('makes auto choose Quick Migration where vMotion was possible, and says why', () => {
    const req = request({ ...web01, options: { commit: { afterMs: 60_000 } } });
    const plan = decidePlan(req, labFacts(req));
    expect(plan.method).toBe('quick-migration');
    expect(plan.reasons).toContainEqual({
      rule: 'R2-method-requested',
      decision:
        'Quick Migration, because options.commit asks for a commit window and vMotion leaves no source to revert to',
      facts: { 'options.commit.afterMs': 60_000, vmotionPossible: true },
    });
    expect(plan.steps.slice(-3)).toEqual(['consolidate', 'commit-window', 'finalize-source']);
  });

  it('has no commit-window step without a window (vMotion stays the first choice)', () => {
    const req = request(web01);
    const plan = decidePlan(req, labFacts(req));
    expect(plan.method).toBe('vmotion');
    expect(plan.steps).not.toContain('commit-window');
    const quick = request({ ...web01, options: { method: 'quick-migration' } });
    expect(decidePlan(quick, labFacts(quick)).steps).not.toContain('commit-window');
  });
});
