/** Preflight's name lookups without a server: what an operator reads when a name matches none or several. */
import { describe, expect, it } from 'vitest';
import { PERMANENT_ERROR_TYPES } from '../../src/activities/errors';
import { findNamed } from '../../src/activities/resolve';
import { RequestValidationError } from '../../src/request/errors';
import type { VSphereClient } from '../../src/vsphere';

// Lookups by name read only the list; the client is used for inventory paths alone.
const scope = { client: {} as VSphereClient, endpoint: 'esx-b' };
const pools = [
  { name: 'Resources', ref: { type: 'ResourcePool', value: 'pool-1' } },
  { name: 'Prod', ref: { type: 'ResourcePool', value: 'pool-2' } },
  { name: 'Prod', ref: { type: 'ResourcePool', value: 'pool-3' } },
];

async function refusal(value: string): Promise<RequestValidationError> {
  const error = await findNamed(scope, pools, value, 'resource pool', 'target.resourcePool').catch((e) => e);
  expect(error).toBeInstanceOf(RequestValidationError);
  return error as RequestValidationError;
}

describe('findNamed', () => {
  it('finds the one object of that name', async () => {
    expect(
      (await findNamed(scope, pools, 'Resources', 'resource pool', 'target.resourcePool')).ref.value,
    ).toBe('pool-1');
  });

  it('refuses an unknown name with the field, the known names, on one line, as a permanent failure', async () => {
    const error = await refusal('Test');
    expect(error.problems).toEqual([
      { path: 'target.resourcePool', message: "no resource pool 'Test' on esx-b; known: Resources, Prod" },
    ]);
    expect(error.message).toBe(
      "target.resourcePool: no resource pool 'Test' on esx-b; known: Resources, Prod",
    );
    expect(PERMANENT_ERROR_TYPES).toContain(error.name);
  });

  it('refuses a name two objects share and asks for the inventory path', async () => {
    const error = await refusal('Prod');
    expect(error.problems[0]?.message).toBe(
      "2 resource pools on esx-b are named 'Prod'; give its inventory path instead",
    );
  });
});
