/**
 * The client's reading of a copy's heartbeat and of a workflow's failure, without a server: heartbeat
 * details encrypted as a worker with a key writes them, and failures as Temporal hands them back.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import type { LoadedDataConverter, Payload } from '@temporalio/common';
import {
  ApplicationFailure,
  defaultFailureConverter,
  defaultPayloadConverter,
  toPayloads,
} from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { migrationFailureOf } from '../../src/client/failures';
import { transferOf } from '../../src/client/progress';
import { AesGcmPayloadCodec, loadEncryptionKey } from '../../src/codec/codec';

function codec(): AesGcmPayloadCodec {
  const file = join(mkdtempSync(join(tmpdir(), 'quickmig-key-')), 'key');
  writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  return new AesGcmPayloadCodec(loadEncryptionKey(file));
}

/** A description with a pending copyFiles activity whose heartbeat holds `payloads`. */
function describing(payloads: Payload[]): WorkflowExecutionDescription {
  return {
    raw: {
      pendingActivities: [
        {
          activityType: { name: 'copyFiles' },
          heartbeatDetails: { payloads },
          attempt: 2,
          lastHeartbeatTime: { seconds: 1_800_000_000 },
        },
      ],
    },
  } as unknown as WorkflowExecutionDescription;
}

const heartbeat = {
  bytesDone: 123_456_789,
  bytesTotal: 268_435_456,
  rateBytesPerSec: 64 << 20,
  current: [{ name: 'ir-app01-flat.vmdk', bytesDone: 100, bytesTotal: 200 }],
};

describe('transferOf (heartbeat details through the public data converter)', () => {
  it('decodes a heartbeat that two codecs encoded, in the reverse order of encoding', async () => {
    const inner = codec();
    const outer = codec();
    const converter: LoadedDataConverter = {
      payloadConverter: defaultPayloadConverter,
      failureConverter: defaultFailureConverter,
      payloadCodecs: [inner, outer],
    };
    // As the SDK encodes: through each codec from the first to the last.
    const encoded = await outer.encode(
      await inner.encode(toPayloads(defaultPayloadConverter, heartbeat) ?? []),
    );
    expect(JSON.stringify(encoded)).not.toContain('ir-app01');
    const transfer = await transferOf(converter, describing(encoded));
    expect(transfer).toEqual({
      ...heartbeat,
      attempt: 2,
      lastHeartbeatAt: new Date(1_800_000_000_000),
    });
  });

  it('shows a copy without bytes when the heartbeat cannot be read (another key)', async () => {
    const converter: LoadedDataConverter = {
      payloadConverter: defaultPayloadConverter,
      failureConverter: defaultFailureConverter,
      payloadCodecs: [codec()],
    };
    const encoded = await codec().encode(toPayloads(defaultPayloadConverter, heartbeat) ?? []);
    expect(await transferOf(converter, describing(encoded))).toMatchObject({
      bytesDone: 0,
      current: [],
      attempt: 2,
    });
  });
});

describe('migrationFailureOf', () => {
  const failed = (type: string) =>
    new WorkflowFailedError(
      'Workflow execution failed',
      ApplicationFailure.create({
        type,
        message: 'source.name: no VM named nosuch on esx-a',
        nonRetryable: true,
      }),
      'NON_RETRYABLE_FAILURE',
    );

  it('maps a rejected request, whether the workflow named it RequestValidationError or the legacy InvalidRequestError', () => {
    for (const type of ['RequestValidationError', 'InvalidRequestError', 'UnknownEndpointError']) {
      const error = migrationFailureOf('quickmig-esx-a-nosuch', failed(type), []);
      expect(error).toMatchObject({ type, rejected: true, blocked: false });
      expect(error.message).toBe('source.name: no VM named nosuch on esx-a');
    }
    expect(migrationFailureOf('id', failed('PreflightBlockedError'), [])).toMatchObject({
      rejected: false,
      blocked: true,
    });
    expect(migrationFailureOf('id', failed('MigrationFailed'), ['removed the snapshot'])).toMatchObject({
      rejected: false,
      blocked: false,
      undone: ['removed the snapshot'],
    });
  });
});
