/**
 * Optional encryption of workflow payloads (inputs, results, heartbeat details, queries, memo) with
 * AES-256-GCM, so Temporal's histories and its database hold ciphertext only. The worker and every
 * client use the same key file; the Temporal Web UI decodes through `quickmig codec-server`
 * (RELIABILITY.md "Payload encryption").
 *
 * Encoded payload: metadata `encoding: binary/encrypted`, `encryption-cipher: AES-256-GCM`,
 * `encryption-key-id: <id>`; data = 12-byte IV, ciphertext, 16-byte tag, of the original payload as JSON
 * (`{metadata: {name: base64}, data: base64}`).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { ValueError } from '@temporalio/common';

/** The `encoding` metadata value of an encrypted payload. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
const CIPHER = 'AES-256-GCM';

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

/** Thrown when a key file is missing, unreadable or does not hold a 256-bit key. */
export class EncryptionKeyError extends Error {
  override readonly name = 'EncryptionKeyError';
}

/** A 256-bit key and its id (the first 8 bytes of its SHA-256, hex: safe to show and log). */
export interface EncryptionKey {
  readonly id: string;
  readonly key: Buffer;
}

/**
 * Reads a key file: 32 raw bytes, or 64 hex digits, or base64 of 32 bytes (one line). Create one with
 * `openssl rand -base64 32 > quickmig.key; chmod 600 quickmig.key`.
 */
export function loadEncryptionKey(file: string): EncryptionKey {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (error) {
    throw new EncryptionKeyError(`cannot read the encryption key file ${file}: ${(error as Error).message}`);
  }
  const line = raw.toString('utf8').trim();
  let key: Buffer | undefined;
  if (raw.length === 32) key = raw;
  else if (/^[0-9a-fA-F]{64}$/.test(line)) key = Buffer.from(line, 'hex');
  else if (/^[A-Za-z0-9+/_-]+=*$/.test(line) && Buffer.from(line, 'base64').length === 32)
    key = Buffer.from(line, 'base64');
  if (!key)
    throw new EncryptionKeyError(
      `${file} does not hold a 256-bit key; write 32 random bytes as base64 (openssl rand -base64 32)`,
    );
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 16), key };
}

/** AES-256-GCM payload codec; decoding leaves payloads that are not encrypted as they are. */
export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(readonly encryptionKey: EncryptionKey) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', this.encryptionKey.key, iv);
      const plain = utf8(JSON.stringify(toJson(payload)));
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          encoding: utf8(ENCRYPTED_ENCODING),
          'encryption-cipher': utf8(CIPHER),
          'encryption-key-id': utf8(this.encryptionKey.id),
        },
        data: new Uint8Array(data),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
      const keyId = text(payload.metadata?.['encryption-key-id']);
      if (keyId !== this.encryptionKey.id)
        throw new ValueError(
          `payload encrypted with key ${keyId}, but this process has key ${this.encryptionKey.id}; give it the same key file as the worker`,
        );
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < 28) throw new ValueError('encrypted payload is too short');
      const decipher = createDecipheriv('aes-256-gcm', this.encryptionKey.key, data.subarray(0, 12));
      decipher.setAuthTag(data.subarray(data.length - 16));
      const plain = Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]);
      return fromJson(JSON.parse(plain.toString('utf8')) as JsonPayload);
    });
  }
}

/** A payload as JSON: metadata values and data base64 (the codec server's wire format too). */
export interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

/** Payload → JSON (base64 fields), as the Temporal UI's codec endpoint exchanges them. */
export function toJson(payload: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
    ),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  };
}

/** JSON (base64 fields) → payload. */
export function fromJson(json: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(
      Object.entries(json.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]),
    ),
    data: new Uint8Array(Buffer.from(json.data ?? '', 'base64')),
  };
}

/** The data converter option for a key file, or nothing without one. */
export function dataConverterFor(keyFile: string | undefined): { payloadCodecs: PayloadCodec[] } | undefined {
  return keyFile ? { payloadCodecs: [new AesGcmPayloadCodec(loadEncryptionKey(keyFile))] } : undefined;
}
