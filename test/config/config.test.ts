import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadWorkerConfig, parseWorkerConfig } from '../../src/config/config';
import { ConfigError } from '../../src/config/errors';
import { normalizeThumbprint } from '../../src/config/thumbprint';

const THUMB = Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, '0')).join(':');

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'quickmig-config-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('worker configuration', () => {
  it('reads endpoints with a password file relative to the config file, and never shows the password', () => {
    const dir = dirWith({
      'pw.txt': 's3cret-pass\n',
      'worker.json': JSON.stringify({
        temporal: { address: '127.0.0.1:7999', namespace: 'mig' },
        endpoints: {
          'esx-a': {
            url: 'https://127.0.0.1:1234/sdk',
            username: 'root',
            passwordFile: 'pw.txt',
            tls: { thumbprint: THUMB.toLowerCase() },
          },
        },
      }),
    });
    const config = loadWorkerConfig(join(dir, 'worker.json'), {});
    const ep = config.endpoints.get('esx-a');
    expect(ep?.password.reveal()).toBe('s3cret-pass');
    expect(ep?.tls.thumbprint).toBe(THUMB.toUpperCase());
    expect(config).toMatchObject({
      taskQueue: 'quickmig',
      temporalAddress: '127.0.0.1:7999',
      namespace: 'mig',
    });
    const shown = `${JSON.stringify({ ...config, endpoints: [...config.endpoints.values()] })} ${inspect(config, { depth: 9 })} ${String(ep?.password)}`;
    expect(shown).not.toContain('s3cret-pass');
    expect(shown).toContain('***');
  });

  it('lets TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE override the file, and reads passwordEnv', () => {
    const config = parseWorkerConfig(
      {
        temporal: { address: 'file:1' },
        endpoints: { vc: { url: 'https://vc.example/sdk', username: 'u', passwordEnv: 'VC_PW' } },
      },
      { baseDir: '/', env: { TEMPORAL_ADDRESS: 'env:7233', TEMPORAL_NAMESPACE: 'ns1', VC_PW: 'pw' } },
    );
    expect(config.temporalAddress).toBe('env:7233');
    expect(config.namespace).toBe('ns1');
    expect(config.endpoints.get('vc')?.password.reveal()).toBe('pw');
  });

  it('connects to Temporal Cloud with an API key or mTLS files from the environment, and plainly otherwise', () => {
    const endpoints = { vc: { url: 'https://vc.example/sdk', username: 'u', password: 'pw' } };
    const base = { TEMPORAL_CONFIG_FILE: '/nonexistent', TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233' };
    const plain = parseWorkerConfig(
      { endpoints },
      { baseDir: '/', env: { TEMPORAL_CONFIG_FILE: '/nonexistent' } },
    );
    expect(plain.temporalConnection).toEqual({});

    // An API key turns TLS on (system CAs), as Temporal Cloud expects.
    const apiKey = parseWorkerConfig(
      { endpoints },
      { baseDir: '/', env: { ...base, TEMPORAL_NAMESPACE: 'ns.acct', TEMPORAL_API_KEY: 'the-key' } },
    );
    expect(apiKey).toMatchObject({
      temporalAddress: 'ns.acct.tmprl.cloud:7233',
      namespace: 'ns.acct',
      temporalConnection: { apiKey: 'the-key', tls: true },
    });

    // mTLS: the client certificate and key are read from the files the environment names.
    const dir = dirWith({ 'client.pem': 'CERT', 'client.key': 'KEY' });
    const mtls = parseWorkerConfig(
      { endpoints },
      {
        baseDir: '/',
        env: {
          ...base,
          TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'client.pem'),
          TEMPORAL_TLS_CLIENT_KEY_PATH: join(dir, 'client.key'),
        },
      },
    );
    const tls = mtls.temporalConnection.tls as { clientCertPair?: { crt: Uint8Array; key: Uint8Array } };
    expect(Buffer.from(tls.clientCertPair?.crt ?? []).toString()).toBe('CERT');
    expect(Buffer.from(tls.clientCertPair?.key ?? []).toString()).toBe('KEY');
    expect(mtls.temporalConnection.apiKey).toBeUndefined();
  });

  it('lists every problem with the field and the fix', () => {
    let message = '';
    try {
      parseWorkerConfig(
        {
          taskQueue: '',
          endpoints: {
            a: { url: 'http://x/sdk', username: '', passwordEnv: 'NOPE' },
            b: { url: 'not a url', username: 'u', password: 'p', passwordFile: 'f' },
            c: {
              url: 'https://c/sdk',
              username: 'u',
              password: 'p',
              tls: { thumbprint: 'AB:CD', insecure: 'yes' },
            },
          },
        } as never,
        { baseDir: '/', env: {} },
      );
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message).toContain('endpoints.a.url: use https://');
    expect(message).toContain('endpoints.a.username: give the login user name');
    expect(message).toContain('endpoints.a.passwordEnv: the environment variable NOPE is not set');
    expect(message).toContain('endpoints.b.url: must be the endpoint');
    expect(message).toContain('endpoints.b: give exactly one of password, passwordFile');
    expect(message).toContain('endpoints.c.tls.thumbprint: must be a SHA-256 thumbprint');
    expect(message).toContain('endpoints.c.tls.insecure: must be true or false');
    expect(message).toContain('taskQueue: must be a non-empty string');
  });

  it('normalizes thumbprints and refuses what is not a SHA-256 one', () => {
    expect(normalizeThumbprint(THUMB.replaceAll(':', '').toLowerCase())).toBe(THUMB.toUpperCase());
    expect(() => normalizeThumbprint('AB:CD')).toThrow(/not a SHA-256 thumbprint/);
  });
});
