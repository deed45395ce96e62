/** The transfer activity's logic without a server: resume input, failure classification, the replace transform, input checks. */
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { PERMANENT_ERROR_TYPES, UnknownEndpointError } from '../../src/activities/errors';
import type { CopyFilesInput, TransferActivityContext } from '../../src/activities/transfer';
import { replaceAll, resumeFrom, runCopyFiles, toActivityFailure } from '../../src/activities/transfer';
import {
  AuthenticationError,
  ConnectionError,
  FileNotFoundError,
  HttpStatusError,
  InsufficientResourcesError,
  SessionExpiredError,
  TransformError,
  VerificationError,
} from '../../src/vsphere';

const ctx = { endpoint: 'https://esx-a.lab/sdk', method: 'GET /folder', object: '[ds] vm/vm-flat.vmdk' };
const done = {
  source: '[ds] vm/vm.vmx',
  target: '[ds2] vm/vm.vmx',
  size: 10,
  sha256Source: 'a'.repeat(64),
  sha256Target: 'a'.repeat(64),
  skipped: false,
};

describe('resumeFrom', () => {
  it('reads the done list of the last heartbeat and ignores anything malformed', () => {
    expect(resumeFrom(undefined)).toEqual([]);
    expect(resumeFrom('garbage')).toEqual([]);
    expect(resumeFrom({ done: 'x' })).toEqual([]);
    expect(
      resumeFrom({
        done: [
          done,
          { ...done, size: -1 },
          { ...done, sha256Source: 1 },
          null,
          { ...done, skipped: undefined },
        ],
        current: [],
      }),
    ).toEqual([done, done]);
  });
});

describe('toActivityFailure', () => {
  const permanent = (err: Error) => {
    const failure = toActivityFailure(err);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: err.name, nonRetryable: true, cause: err });
  };
  const transient = (err: Error) => expect(toActivityFailure(err)).toBe(err);

  it('makes a missing source, a full datastore, a refused login and a bad transform non-retryable, typed by class', () => {
    permanent(new FileNotFoundError(ctx, { type: 'FileNotFound', message: 'gone', detail: {} }));
    permanent(new InsufficientResourcesError(ctx, { type: 'NoDiskSpace', message: 'full', detail: {} }));
    permanent(new AuthenticationError(ctx, { type: 'InvalidLogin', message: 'no', detail: {} }));
    permanent(new TransformError(ctx, '[ds] vm/vm.vmx', 'too large'));
    permanent(new HttpStatusError(ctx, 400, 'bad request'));
    permanent(new UnknownEndpointError('esx-z', ['esx-a']));
  });

  it('leaves resets, 5xx and verification mismatches retryable', () => {
    transient(new ConnectionError(ctx, 'socket hang up', 'ECONNRESET'));
    transient(new HttpStatusError(ctx, 503, 'busy'));
    transient(new VerificationError(ctx, '[ds] a', '[ds2] a', 'sha256', 'a'.repeat(64), 'b'.repeat(64)));
    transient(new Error('anything else'));
  });

  it("retries a lost session, whose name the permanent list (the workflows' too) does not hold", () => {
    const lost = new SessionExpiredError(ctx, { type: 'NotAuthenticated', message: '', detail: {} });
    transient(lost);
    expect(PERMANENT_ERROR_TYPES).not.toContain(lost.name);
  });
});

describe('replaceAll', () => {
  it('replaces every occurrence, pair after pair', () => {
    const t = replaceAll({
      kind: 'replace',
      pairs: [
        ['web01', 'web01-new'],
        ['[ds1]', '[ds2]'],
      ],
    });
    expect(t('scsi0:0.fileName = "web01.vmdk"\nnvram = "web01.nvram"\nx = "[ds1] a/b"')).toBe(
      'scsi0:0.fileName = "web01-new.vmdk"\nnvram = "web01-new.nvram"\nx = "[ds2] a/b"',
    );
  });
});

describe('runCopyFiles input checks', () => {
  it('refuses an invalid input non-retryably before connecting anywhere', async () => {
    const context: TransferActivityContext = {
      heartbeat: () => undefined,
      heartbeatDetails: undefined,
      signal: new AbortController().signal,
    };
    const deps = {
      clientFor: () => {
        throw new Error('must not connect');
      },
    };
    const input = {
      sourceEndpoint: 'esx-a',
      targetEndpoint: 'esx-b',
      verify: 'md5',
      files: [
        { source: 'no-brackets', target: '[ds] x', transform: { kind: 'replace', pairs: [['', 'x']] } },
        { source: '[ds] a', target: '[ds] b', size: -1 },
      ],
    } as unknown as CopyFilesInput;
    const error = await runCopyFiles(deps, input, context).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ type: 'InvalidTransferInput', nonRetryable: true });
    const message = (error as Error).message;
    expect(message).toContain('verify');
    expect(message).toContain('files[0].source');
    expect(message).toContain('files[0].transform');
    expect(message).toContain('files[1].size must be a whole number of bytes');
  });
});
