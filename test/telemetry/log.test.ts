/**
 * The worker's JSON log lines (src/telemetry jsonLogLine): what an operator's log pipeline receives for an
 * activity failure as the SDK reports it. The error is spelled out (not `{}`), the migration id is on the
 * line, and a task token or anything secret-looking never is.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { LogEntry } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { jsonLogLine } from '../../src/telemetry/telemetry';

const entry = (message: string, meta: Record<string, unknown>): LogEntry => ({
  level: 'WARN',
  message,
  meta,
  timestampNanos: 1_764_700_000_000_000_000n,
});

describe('jsonLogLine', () => {
  it('spells out an error with its type and cause, and drops task tokens and secrets', () => {
    const cause = new Error('connect ECONNREFUSED 10.0.0.5:443');
    const error = ApplicationFailure.create({
      type: 'PermissionDeniedError',
      message: 'NoPermission on vm-42',
      cause,
    });
    const line = JSON.parse(
      jsonLogLine(
        entry('Activity failed', {
          workflowId: 'quickmig-esx-a-app01',
          activityType: 'createSnapshot',
          taskToken: new Uint8Array([1, 2, 3]),
          error,
          request: { apiKey: 'k', password: 'p', endpoint: 'esx-a', Authorization: 'Bearer x' },
          attempt: 2n,
        }),
      ),
    ) as Record<string, unknown>;
    expect(line).toEqual({
      time: '2025-12-02T18:26:40.000Z',
      level: 'WARN',
      message: 'Activity failed',
      migrationId: 'quickmig-esx-a-app01',
      workflowId: 'quickmig-esx-a-app01',
      activityType: 'createSnapshot',
      error: {
        name: 'ApplicationFailure',
        type: 'PermissionDeniedError',
        message: 'NoPermission on vm-42',
        cause: { name: 'Error', message: 'connect ECONNREFUSED 10.0.0.5:443' },
      },
      request: { endpoint: 'esx-a' },
      attempt: '2',
    });
  });
});
