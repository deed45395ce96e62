/**
 * docker-compose.yml and the Dockerfile agree with what the worker reads: the services, the config
 * path, the environment names, the metrics port, the task queue, the search attributes and the
 * secrets (files, never environment literals). No Docker engine needed: the YAML is parsed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { imageRuntime } from '../../bench/image-runtime';
import { TEMPORAL_ENVIRONMENT, WORKER_ENVIRONMENT } from '../../src/cli/worker';
import { parseWorkerConfig } from '../../src/config/config';
import { projectRoot } from '../../src/lab/tools';
import { DEFAULT_TASK_QUEUE } from '../../src/request/contract';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/workflows/search-attributes';

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  entrypoint?: string[] | string;
  environment?: Record<string, string | number>;
  ports?: string[];
  volumes?: string[];
  secrets?: string[];
}
interface Compose {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
}

const compose = parse(readFileSync(join(projectRoot, 'docker-compose.yml'), 'utf8')) as Compose;
const dockerfile = readFileSync(join(projectRoot, 'Dockerfile'), 'utf8');
const worker = compose.services['quickmig-worker'] as Service;
const env = Object.fromEntries(Object.entries(worker.environment ?? {}).map(([k, v]) => [k, String(v)]));

const argAfter = (args: readonly string[], flag: string) => args[args.indexOf(flag) + 1];

describe('docker-compose.yml', () => {
  it('runs Temporal on PostgreSQL, the UI, the search-attribute setup and the worker built from the Dockerfile', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ['postgresql', 'quickmig-worker', 'search-attributes', 'temporal', 'temporal-ui'].sort(),
    );
    expect(compose.services.temporal?.environment?.DB).toBe('postgres12');
    expect(compose.services.temporal?.environment?.POSTGRES_SEEDS).toBe('postgresql');
    expect(compose.services['temporal-ui']?.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(worker.build).toBe('.');
  });

  it('starts the worker as the Dockerfile does, with the config file it mounts', () => {
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
    // ENTRYPOINT ["node", ...flags, "bin/quickmig.js"], read as the bench reads it to start its workers;
    // the flags (the image's memory settings) are ones this Node accepts
    const { nodeArgs } = imageRuntime();
    expect(() => execFileSync(process.execPath, [...nodeArgs, '-e', '0'])).not.toThrow();
    expect(cmd.slice(0, 1)).toEqual(['worker']);
    const command = worker.command ?? [];
    expect(command[0]).toBe('worker');
    const configPath = argAfter(command, '--config');
    expect(configPath).toBe(argAfter(cmd, '--config'));
    expect(configPath).toBe('/etc/quickmig/worker.json');
    expect(worker.volumes).toContain(`./deploy/worker.json:${configPath}:ro`);
  });

  it('sets only environment names the worker reads, and the worker reads them', () => {
    const known: string[] = [...Object.values(WORKER_ENVIRONMENT), ...TEMPORAL_ENVIRONMENT];
    for (const name of Object.keys(env)) expect(known, `${name} is not read by the worker`).toContain(name);
    const [host, port] = (env.TEMPORAL_ADDRESS ?? '').split(':');
    expect(compose.services[host ?? '']).toBeDefined();
    expect(compose.services.temporal?.ports).toContain(`${port}:${port}`);

    // The worker's configuration loader, given the compose environment and the mounted file.
    const raw = JSON.parse(readFileSync(join(projectRoot, 'deploy', 'worker.json'), 'utf8'));
    const secrets = mkdtempSync(join(tmpdir(), 'quickmig-secrets-'));
    for (const ep of Object.values(raw.endpoints) as { passwordFile: string; tls: { caFile?: string } }[]) {
      ep.passwordFile = join(secrets, ep.passwordFile.replace(/^\/run\/secrets\//, ''));
      writeFileSync(ep.passwordFile, 'x');
      delete ep.tls.caFile;
    }
    const config = parseWorkerConfig(raw, {
      baseDir: secrets,
      env: { ...env, TEMPORAL_CONFIG_FILE: '/nonexistent' },
    });
    expect(config.temporalAddress).toBe(env.TEMPORAL_ADDRESS);
    expect(config.namespace).toBe(env.TEMPORAL_NAMESPACE);
    expect(config.taskQueue).toBe(DEFAULT_TASK_QUEUE);
  });

  it('exposes the metrics port the worker serves, as the Dockerfile declares', () => {
    const port = env[WORKER_ENVIRONMENT.metricsPort];
    expect(port).toMatch(/^\d+$/);
    expect(worker.ports).toContain(`${port}:${port}`);
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${port}$`, 'm'));
  });

  it('registers exactly the search attributes the workflows upsert', () => {
    const script = [compose.services['search-attributes']?.entrypoint ?? []].flat().join('\n');
    const names = /for name in ([\w ]+); do/.exec(script)?.[1]?.split(' ') ?? [];
    expect(names.sort()).toEqual(SEARCH_ATTRIBUTE_KEYS.map((k) => k.name).sort());
    expect(script).toContain('--type Keyword');
  });

  it('passes secrets as mounted files, never as environment literals', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const key of Object.keys(service.environment ?? {})) {
        if (/PASSWORD|PWD|SECRET|TOKEN|API_KEY/i.test(key))
          expect(key, `${name}.${key} carries a secret literal`).toMatch(/_FILE$/);
      }
    }
    const raw = JSON.parse(readFileSync(join(projectRoot, 'deploy', 'worker.json'), 'utf8'));
    for (const [name, ep] of Object.entries(raw.endpoints) as [string, Record<string, unknown>][]) {
      expect(ep.password, `${name} has a password literal`).toBeUndefined();
      const secret = String(ep.passwordFile).replace(/^\/run\/secrets\//, '');
      expect(worker.secrets, `${name}'s password file is not a mounted secret`).toContain(secret);
      expect(compose.secrets[secret]?.file).toBe(`./deploy/secrets/${secret}`);
    }
  });
});
