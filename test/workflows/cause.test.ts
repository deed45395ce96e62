/**
 * The cause a failed step reports: decoded from the failures Temporal records (no server), as the
 * workflow receives them.
 */
import { DefaultFailureConverter, defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { causeOf } from '../../src/workflows/quick-migration/compensation';

const converter = new DefaultFailureConverter();
const fault = {
  message: 'RegisterVM_Task on [datastore1] p-host/p-host.vmx failed: HostNotConnected',
  applicationFailureInfo: { type: 'HostNotConnected' },
};
const activity = (cause: object) =>
  converter.failureToError(
    {
      message: 'Activity task failed',
      activityFailureInfo: { activityType: { name: 'registerVm' }, activityId: '7', retryState: 2 },
      cause,
    },
    defaultPayloadConverter,
  );

describe('causeOf', () => {
  it("names the activity's own error", () => {
    expect(causeOf(activity(fault))).toBe(fault.message);
  });

  it('names the last attempt’s fault when the retries ran out of time (the timeout carries it)', () => {
    const timeout = {
      message: 'activity ScheduleToClose timeout',
      timeoutFailureInfo: { timeoutType: 2 },
      cause: fault,
    };
    expect(causeOf(activity(timeout))).toBe(
      `${fault.message} (retried until the step's time ran out: activity ScheduleToClose timeout)`,
    );
  });

  it('says timeout when no attempt failed before it', () => {
    const timeout = { message: 'activity ScheduleToClose timeout', timeoutFailureInfo: { timeoutType: 2 } };
    expect(causeOf(activity(timeout))).toBe('activity ScheduleToClose timeout');
  });
});
