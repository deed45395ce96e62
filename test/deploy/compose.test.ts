/**
 * docker-compose.yml and the Dockerfile agree with what the worker reads and start in the right order: the
 * services, the images (pinned, current official Temporal images), every file the worker configuration
 * names mounted where it names it, health checks on every long-running service, every dependency gated on
 * a condition, the one-shot setup scripts failing loudly, the environment names, the metrics port, the task
 * queue, the search attributes and the secrets (files, never environment literals). No Docker engine
 * needed: the YAML is parsed and the worker's own configuration loader runs on the mounted files.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { imageRuntime } from '../../bench/image-runtime';
import { TEMPORAL_ENVIRONMENT, WORKER_ENVIRONMENT } from '../../src/cli/worker';
import { parseWorkerConfig } from '../../src/config/config';
import { projectRoot } from '../../src/lab/tools';
import { DEFAULT_TASK_QUEUE } from '../../src/request/contract';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/workflows/search-attributes';
import type { Mount, RawWorkerConfig } from './support';
import { containerFiles, isPinned, mountFor, pathsNamedBy, relocatePaths } from './support';

type Dependency = { condition?: string };
interface Service {
  image?: string;
  build?: string;
  command?: string[];
  entrypoint?: string[] | string;
  environment?: Record<string, string | number>;
  ports?: string[];
  volumes?: (string | { type?: string; source?: string; target: string; read_only?: boolean })[];
  configs?: (string | { source: string; target?: string })[];
  secrets?: (string | { source: string; target?: string })[];
  depends_on?: string[] | Record<string, Dependency>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  restart?: string;
}
interface Compose {
  services: Record<string, Service>;
  configs?: Record<string, { file: string }>;
  secrets: Record<string, { file: string }>;
}

const compose = parse(readFileSync(join(projectRoot, 'docker-compose.yml'), 'utf8')) as Compose;
const dockerfile = readFileSync(join(projectRoot, 'Dockerfile'), 'utf8');
const packageVersion = (
  JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }
).version;
const deployReadme = readFileSync(join(projectRoot, 'deploy', 'README.md'), 'utf8');
const worker = compose.services['quickmig-worker'] as Service;
const env = Object.fromEntries(Object.entries(worker.environment ?? {}).map(([k, v]) => [k, String(v)]));
const workerJson = JSON.parse(
  readFileSync(join(projectRoot, 'deploy', 'worker.json'), 'utf8'),
) as RawWorkerConfig;

const argAfter = (args: readonly string[], flag: string) => args[args.indexOf(flag) + 1];

/** What a compose service makes visible inside its container: bind mounts, configs and secrets. */
function mountsOf(service: Service): Mount[] {
  const mounts: Mount[] = [];
  for (const v of service.volumes ?? []) {
    if (typeof v === 'string') {
      const [source, target] = v.split(':');
      if (source && target) mounts.push({ source, target });
    } else if (v.source) mounts.push({ source: v.source, target: v.target });
  }
  for (const c of service.configs ?? []) {
    const source = typeof c === 'string' ? c : c.source;
    const target = (typeof c === 'string' ? undefined : c.target) ?? `/${source}`;
    mounts.push({ source: `config ${source} (${compose.configs?.[source]?.file})`, target });
  }
  for (const s of service.secrets ?? []) {
    const source = typeof s === 'string' ? s : s.source;
    const target = (typeof s === 'string' ? undefined : s.target) ?? `/run/secrets/${source}`;
    mounts.push({ source: `secret ${source} (${compose.secrets[source]?.file})`, target });
  }
  return mounts;
}

/** The host file behind a mount, relative to the project: a bind's source, a config's or a secret's file. */
function hostFileOf(service: Service, target: string): string | undefined {
  for (const v of service.volumes ?? []) {
    if (typeof v === 'string' && v.split(':')[1] === target) return v.split(':')[0];
    if (typeof v === 'object' && v.target === target) return v.source;
  }
  for (const c of service.configs ?? []) {
    const source = typeof c === 'string' ? c : c.source;
    if (((typeof c === 'string' ? undefined : c.target) ?? `/${source}`) === target)
      return compose.configs?.[source]?.file;
  }
  for (const s of service.secrets ?? []) {
    const source = typeof s === 'string' ? s : s.source;
    if (((typeof s === 'string' ? undefined : s.target) ?? `/run/secrets/${source}`) === target)
      return compose.secrets[source]?.file;
  }
  return undefined;
}

const dependencies = (service: Service): [string, Dependency][] =>
  Array.isArray(service.depends_on)
    ? service.depends_on.map((name) => [name, {}])
    : Object.entries(service.depends_on ?? {});

/** A service that runs once and exits (schema setup, registration), as opposed to one that keeps running. */
const isOneShot = (service: Service) => service.restart === 'no';

describe('docker-compose.yml', () => {
  it('runs Temporal on PostgreSQL from the official server and admin-tools images, the UI, the setup jobs and the worker', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      [
        'postgresql',
        'quickmig-worker',
        'temporal',
        'temporal-schema',
        'temporal-setup',
        'temporal-ui',
      ].sort(),
    );
    const image = (name: string) => compose.services[name]?.image ?? '';
    // temporalio/auto-setup is no longer built: the server image, with admin-tools for schema and setup.
    for (const service of Object.values(compose.services))
      expect(service.image ?? '').not.toMatch(/temporalio\/auto-setup/);
    expect(image('temporal')).toMatch(/^temporalio\/server:/);
    expect(image('temporal-schema')).toMatch(/^temporalio\/admin-tools:/);
    expect(image('temporal-setup')).toMatch(/^temporalio\/admin-tools:/);
    // The schema admin-tools installs is the one the server of the same version expects.
    expect(image('temporal-schema').split(':')[1]).toBe(image('temporal').split(':')[1]);
    expect(image('temporal-setup').split(':')[1]).toBe(image('temporal').split(':')[1]);
    expect(compose.services.temporal?.environment?.DB).toBe('postgres12');
    expect(compose.services.temporal?.environment?.POSTGRES_SEEDS).toBe('postgresql');
    expect(compose.services['temporal-schema']?.environment?.POSTGRES_SEEDS).toBe('postgresql');
    expect(compose.services['temporal-ui']?.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(compose.services['temporal-setup']?.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(worker.build).toBe('.');
  });

  it('pins every image tag, and tags the worker image with the package version', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.image, `${name} has no image`).toBeDefined();
      expect(isPinned(service.image ?? ''), `${name}: ${service.image} is not pinned to a version`).toBe(
        true,
      );
    }
    expect(worker.image).toBe(`quickmig:${packageVersion}`);
  });

  it('builds the worker on a supported Node LTS, pinned to a release', () => {
    const from = /^FROM\s+(\S+)/m.exec(dockerfile)?.[1] ?? '';
    expect(isPinned(from), `${from} is not pinned`).toBe(true);
    const [, major] = /^node:(\d+)\.\d+\.\d+-/.exec(from) ?? [];
    // Node 20 left support on 2026-04-30; 22 and 24 are the supported LTS lines.
    expect(['22', '24']).toContain(major);
  });

  it('gives every long-running service a health check, and gates every dependency on a condition', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (!isOneShot(service)) {
        expect(service.healthcheck?.test, `${name} has no health check`).toBeDefined();
        expect(service.healthcheck?.disable).not.toBe(true);
      }
      for (const [dep, { condition }] of dependencies(service)) {
        const target = compose.services[dep];
        expect(target, `${name} depends on unknown ${dep}`).toBeDefined();
        // A one-shot job is waited for until it exits 0; a server until its health check passes.
        const expected = target && isOneShot(target) ? 'service_completed_successfully' : 'service_healthy';
        expect(condition, `${name} -> ${dep}`).toBe(expected);
      }
    }
    const dependsOn = (name: string) =>
      Object.fromEntries(dependencies(compose.services[name] as Service).map(([d, c]) => [d, c.condition]));
    // The chain: database healthy -> schema set up -> server healthy -> namespace and search attributes
    // registered -> worker.
    expect(dependsOn('temporal-schema')).toEqual({ postgresql: 'service_healthy' });
    expect(dependsOn('temporal')).toEqual({ 'temporal-schema': 'service_completed_successfully' });
    expect(dependsOn('temporal-setup')).toEqual({ temporal: 'service_healthy' });
    expect(dependsOn('quickmig-worker')).toEqual({
      temporal: 'service_healthy',
      'temporal-setup': 'service_completed_successfully',
    });
    // The worker's health check is the image's script, in its readiness form (polling a task queue).
    expect(worker.healthcheck?.test).toEqual(['CMD', 'node', 'scripts/healthcheck.mjs', '--ready']);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*CMD \["node", "scripts\/healthcheck\.mjs"\]$/m);
    expect(existsSync(join(projectRoot, 'scripts', 'healthcheck.mjs'))).toBe(true);
  });

  it('runs the one-shot jobs from mounted scripts that stop at the first failure and hide none', () => {
    for (const name of ['temporal-schema', 'temporal-setup']) {
      const service = compose.services[name] as Service;
      const entrypoint = [service.entrypoint ?? []].flat();
      const script = entrypoint.at(-1) ?? '';
      const host = hostFileOf(service, script);
      expect(host, `${name} runs ${script}, which it does not mount`).toBeDefined();
      const text = readFileSync(join(projectRoot, host ?? ''), 'utf8');
      expect(text, `${name}: ${host} must stop on errors`).toMatch(/^set -eu$/m);
      expect(text, `${name}: ${host} swallows a failure`).not.toMatch(/\|\|\s*(true|:)\b/);
      // The script is valid POSIX sh.
      expect(() => execFileSync('sh', ['-n', join(projectRoot, host ?? '')])).not.toThrow();
    }
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
    const configPath = argAfter(command, '--config') ?? '';
    expect(configPath).toBe(argAfter(cmd, '--config'));
    expect(configPath).toBe('/etc/quickmig/worker.json');
    expect(hostFileOf(worker, configPath)).toBe('./deploy/worker.json');
  });

  it('mounts every file deploy/worker.json names, where it names it, and the worker loads the config from them', () => {
    const mounts = mountsOf(worker);
    const named = pathsNamedBy(workerJson);
    // The example names a password file per endpoint and a CA file: all of them must be checked.
    expect(named.map((n) => n.field)).toEqual(
      expect.arrayContaining(['endpoints.vcenter.passwordFile', 'endpoints.vcenter.tls.caFile']),
    );
    for (const { field, path } of named) {
      expect(path, `${field} must be an absolute path inside the container`).toMatch(/^\//);
      expect(mountFor(mounts, path), `${field} ${path} is not mounted into quickmig-worker`).toBeDefined();
      const host = hostFileOf(worker, path) ?? '';
      // A host file the operator provides (secrets, the CA) is git-ignored and its creation is documented.
      if (!existsSync(join(projectRoot, host)))
        expect(deployReadme, `deploy/README.md does not say how to create ${host}`).toContain(
          host.replace(/^\.\//, ''),
        );
    }

    // The worker's configuration loader, given the compose environment and only the mounted files.
    const container = containerFiles(mounts, (target) =>
      target === '/etc/quickmig/worker.json' ? JSON.stringify(workerJson) : undefined,
    );
    const config = parseWorkerConfig(relocatePaths(workerJson, container.at), {
      baseDir: container.at('/etc/quickmig'),
      env: { ...env, TEMPORAL_CONFIG_FILE: '/nonexistent' },
    });
    expect(config.endpoints.get('vcenter')?.tls.caFile).toBe(container.at('/etc/quickmig/vcenter-ca.pem'));
    expect([...config.endpoints.keys()].sort()).toEqual(Object.keys(workerJson.endpoints as object).sort());
    expect(config.temporalAddress).toBe(env.TEMPORAL_ADDRESS);
    expect(config.namespace).toBe(env.TEMPORAL_NAMESPACE);
    expect(config.taskQueue).toBe(DEFAULT_TASK_QUEUE);
  });

  it('git-ignores the files the operator provides (passwords, CA)', () => {
    const ignored = (path: string) => {
      try {
        execFileSync('git', ['check-ignore', '-q', path], { cwd: projectRoot });
        return true;
      } catch {
        return false;
      }
    };
    for (const { path } of pathsNamedBy(workerJson)) {
      const host = (hostFileOf(worker, path) ?? '').replace(/^\.\//, '');
      if (!existsSync(join(projectRoot, host)))
        expect(ignored(host), `${host} is not git-ignored`).toBe(true);
    }
  });

  it('sets only environment names the worker reads, and the worker reads them', () => {
    const known: string[] = [...Object.values(WORKER_ENVIRONMENT), ...TEMPORAL_ENVIRONMENT];
    for (const name of Object.keys(env)) expect(known, `${name} is not read by the worker`).toContain(name);
    const [host, port] = (env.TEMPORAL_ADDRESS ?? '').split(':');
    expect(compose.services[host ?? '']).toBeDefined();
    expect(compose.services.temporal?.ports).toContain(`${port}:${port}`);
  });

  it('exposes the metrics port the worker serves, as the Dockerfile declares', () => {
    const port = env[WORKER_ENVIRONMENT.metricsPort];
    expect(port).toMatch(/^\d+$/);
    expect(worker.ports).toContain(`${port}:${port}`);
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${port}$`, 'm'));
  });

  it('registers exactly the search attributes the workflows upsert, with their types', () => {
    const setup = compose.services['temporal-setup'] as Service;
    const script = readFileSync(
      join(projectRoot, hostFileOf(setup, '/scripts/temporal-setup.sh') ?? ''),
      'utf8',
    );
    const entries = /^SEARCH_ATTRIBUTES="([\w: ]+)"$/m.exec(script)?.[1]?.split(' ') ?? [];
    expect(entries.map((e) => e.toUpperCase()).sort()).toEqual(
      SEARCH_ATTRIBUTE_KEYS.map((k) => `${k.name}:${k.type}`.toUpperCase()).sort(),
    );
    expect(script).toContain('--type "$type"');
    expect(setup.environment?.TEMPORAL_NAMESPACE).toBe(env.TEMPORAL_NAMESPACE);
  });

  it('passes secrets as mounted files, never as environment literals', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [key, value] of Object.entries(service.environment ?? {})) {
        if (/PASSWORD|PWD|SECRET|TOKEN|API_KEY/i.test(key)) {
          expect(key, `${name}.${key} carries a secret literal`).toMatch(/_FILE$/);
          expect(String(value), `${name}.${key} must name a mounted secret`).toMatch(/^\/run\/secrets\//);
        }
      }
    }
    for (const [name, ep] of Object.entries(
      workerJson.endpoints as Record<string, Record<string, unknown>>,
    )) {
      expect(ep.password, `${name} has a password literal`).toBeUndefined();
      const secret = String(ep.passwordFile).replace(/^\/run\/secrets\//, '');
      expect(worker.secrets, `${name}'s password file is not a mounted secret`).toContain(secret);
      expect(compose.secrets[secret]?.file).toBe(`./deploy/secrets/${secret}`);
    }
  });
});
