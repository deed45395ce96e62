/**
 * deploy/kubernetes (kustomize) agrees with what the worker reads: both deployments mount every file their
 * worker.json names where it names it (ConfigMap and Secret keys from the generators), pin the image, serve
 * metrics on the port their probes and the service use, and start the worker with flags it accepts. No
 * cluster or kubectl needed: the YAML is parsed and the worker's configuration loader runs on the files the
 * pods would see; each object is validated against the Kubernetes API's JSON Schema (kubernetes-models).
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { WORKER_ENVIRONMENT } from '../../src/cli/worker';
import { parseWorkerConfig } from '../../src/config/config';
import { projectRoot } from '../../src/lab/tools';
import type { Mount, RawWorkerConfig } from './support';
import { containerFiles, isPinned, mountFor, pathsNamedBy, relocatePaths } from './support';

const dir = join(projectRoot, 'deploy', 'kubernetes');
const read = (file: string) => readFileSync(join(dir, file), 'utf8');

interface Kustomization {
  namespace: string;
  resources: string[];
  configMapGenerator: { name: string; files: string[] }[];
  secretGenerator: { name: string; files: string[] }[];
  images: { name: string; newName?: string; newTag?: string; digest?: string }[];
}
interface Container {
  name: string;
  image: string;
  args: string[];
  env?: { name: string; value?: string }[];
  ports?: { name?: string; containerPort: number }[];
  startupProbe?: { exec?: { command: string[] } };
  livenessProbe?: { exec?: { command: string[] } };
  readinessProbe?: { exec?: { command: string[] } };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  resources?: { limits?: { memory?: string } };
}
interface Volume {
  name: string;
  configMap?: { name: string };
  secret?: { secretName: string };
  emptyDir?: object;
}
interface Manifest {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    selector?: { matchLabels?: Record<string, string> } | Record<string, string>;
    template?: {
      metadata: { labels: Record<string, string> };
      spec: { containers: Container[]; volumes: Volume[]; terminationGracePeriodSeconds?: number };
    };
    ports?: { name: string; port: number; targetPort: string | number }[];
  };
}

const kustomization = parseAllDocuments(read('kustomization.yaml'))[0]?.toJS() as Kustomization;
const manifests = kustomization.resources.flatMap((file) =>
  parseAllDocuments(read(file)).map((d) => d.toJS() as Manifest),
);
const deployments = manifests.filter((m) => m.kind === 'Deployment');
const workerJson = JSON.parse(read('worker.json')) as RawWorkerConfig;
const packageVersion = (
  JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }
).version;

/** Key names of a generator entry: `key=path` or `path` (key = its file name). */
const generatedKeys = (files: string[]) =>
  files.map((f) => (f.includes('=') ? f.split('=')[0] : basename(f)) ?? f);

/** What a pod's container sees: each ConfigMap or Secret volume as a directory of its generated keys. */
function mountsOf(manifest: Manifest): Mount[] {
  const spec = manifest.spec.template?.spec;
  const container = spec?.containers[0];
  return (container?.volumeMounts ?? []).flatMap((vm) => {
    const volume = spec?.volumes.find((v) => v.name === vm.name);
    const configMap = kustomization.configMapGenerator.find((g) => g.name === volume?.configMap?.name);
    const secret = kustomization.secretGenerator.find((g) => g.name === volume?.secret?.secretName);
    const generator = configMap ?? secret;
    if (!generator) return [];
    return [
      {
        target: vm.mountPath,
        source: `${volume?.name} (${generator.name})`,
        files: generatedKeys(generator.files),
      },
    ];
  });
}

const argAfter = (args: readonly string[], flag: string) => args[args.indexOf(flag) + 1];

describe('deploy/kubernetes', () => {
  it('is valid Kubernetes: every object matches the API schema of its kind', () => {
    const models = { Deployment, Namespace, Service } as const;
    expect(manifests.map((m) => m.kind).sort()).toEqual(['Deployment', 'Deployment', 'Namespace', 'Service']);
    for (const manifest of manifests) {
      const Model = models[manifest.kind as keyof typeof models];
      expect(
        () => new Model(manifest as never).validate(),
        `${manifest.kind} ${manifest.metadata.name}`,
      ).not.toThrow();
    }
    // The check can fail: a port given as a string is refused.
    const broken = structuredClone(deployments[0]) as Manifest;
    (broken.spec.template?.spec.containers[0]?.ports?.[0] as { containerPort: unknown }).containerPort =
      'metrics';
    expect(() => new Deployment(broken as never).validate()).toThrow(/containerPort/);
  });

  it('has an all-in-one worker deployment and a data-mover deployment, each a quickmig worker', () => {
    const byComponent = Object.fromEntries(
      deployments.map((d) => [d.metadata.labels?.['app.kubernetes.io/component'], d]),
    );
    const worker = byComponent.worker?.spec.template?.spec.containers[0];
    const mover = byComponent['data-mover']?.spec.template?.spec.containers[0];
    expect(worker?.args.slice(0, 1)).toEqual(['worker']);
    expect(worker?.args).not.toContain('--data-mover-only');
    expect(mover?.args.slice(0, 1)).toEqual(['worker']);
    expect(mover?.args).toContain('--data-mover-only');
    expect(argAfter(mover?.args ?? [], '--data-mover-queue')).toMatch(/^[\w-]+$/);
    for (const d of deployments) {
      const args = d.spec.template?.spec.containers[0]?.args ?? [];
      expect(argAfter(args, '--log-format'), d.metadata.name).toBe('json');
      // Running activities are cancelled on SIGTERM and retried elsewhere; give them time to report it.
      expect(d.spec.template?.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(60);
      // The selector picks this deployment's pods only.
      const selector = (d.spec.selector as { matchLabels: Record<string, string> }).matchLabels;
      expect(d.spec.template?.metadata.labels).toMatchObject(selector);
    }
  });

  it('pins the image: the manifests name it, kustomize sets a versioned tag (the package version)', () => {
    for (const d of deployments) {
      const image = d.spec.template?.spec.containers[0]?.image ?? '';
      expect(isPinned(image), `${d.metadata.name}: ${image}`).toBe(true);
      const override = kustomization.images.find((i) => i.name === image.split(':')[0]);
      expect(override, `kustomization.yaml does not set the image ${image}`).toBeDefined();
      expect(override?.digest ?? override?.newTag).toBe(packageVersion);
      expect(image).toBe(`${override?.name}:${packageVersion}`);
    }
  });

  it('mounts every file worker.json names in both deployments, and the worker loads the config from them', () => {
    const named = pathsNamedBy(workerJson);
    expect(named.map((n) => n.field)).toEqual(
      expect.arrayContaining(['endpoints.vcenter.passwordFile', 'endpoints.vcenter.tls.caFile']),
    );
    for (const d of deployments) {
      const container = d.spec.template?.spec.containers[0] as Container;
      const mounts = mountsOf(d);
      const configPath = argAfter(container.args, '--config') ?? '';
      expect(
        mountFor(mounts, configPath),
        `${d.metadata.name}: --config ${configPath} is not mounted`,
      ).toBeDefined();
      for (const { field, path } of named)
        expect(mountFor(mounts, path), `${d.metadata.name}: ${field} ${path} is not mounted`).toBeDefined();
      // Passwords come from the Secret, never from the ConfigMap.
      for (const { field, path } of named.filter((n) => /password/i.test(n.field)))
        expect(mountFor(mounts, path)?.source, `${d.metadata.name}: ${field}`).toMatch(/quickmig-vsphere/);
      for (const vm of container.volumeMounts.filter((m) => m.mountPath !== '/tmp'))
        expect(vm.readOnly, `${d.metadata.name}: ${vm.mountPath}`).toBe(true);

      const files = containerFiles(mounts, (target) =>
        target === configPath ? JSON.stringify(workerJson) : undefined,
      );
      const config = parseWorkerConfig(relocatePaths(workerJson, files.at), {
        baseDir: files.at('/etc/quickmig'),
        env: { TEMPORAL_CONFIG_FILE: '/nonexistent' },
      });
      expect([...config.endpoints.keys()].sort()).toEqual(Object.keys(workerJson.endpoints as object).sort());
      expect(config.endpoints.get('vcenter')?.tls.caFile).toBe(files.at('/etc/quickmig/vcenter-ca.pem'));
    }
    // Secret files are generated from git-ignored files under secrets/, one per password file.
    const secretFiles = kustomization.secretGenerator.flatMap((g) =>
      g.files.map((f) => f.split('=')[1] ?? f),
    );
    for (const f of secretFiles) expect(f).toMatch(/^secrets\//);
  });

  it('serves metrics on the port the probes check and the service scrapes', () => {
    const service = manifests.find((m) => m.kind === 'Service');
    const servicePort = service?.spec.ports?.find((p) => p.name === 'metrics');
    for (const d of deployments) {
      const container = d.spec.template?.spec.containers[0] as Container;
      const port = container.env?.find((e) => e.name === WORKER_ENVIRONMENT.metricsPort)?.value;
      const declared = container.ports?.find((p) => p.name === servicePort?.targetPort);
      expect(String(declared?.containerPort), d.metadata.name).toBe(port);
      expect(servicePort?.port).toBe(Number(port));
      // The service selects the pods of both deployments.
      expect(d.spec.template?.metadata.labels).toMatchObject(
        service?.spec.selector as Record<string, string>,
      );
      expect(container.livenessProbe?.exec?.command).toEqual(['node', 'scripts/healthcheck.mjs']);
      expect(container.startupProbe?.exec?.command).toEqual(['node', 'scripts/healthcheck.mjs']);
      expect(container.readinessProbe?.exec?.command).toEqual(['node', 'scripts/healthcheck.mjs', '--ready']);
      expect(container.resources?.limits?.memory, `${d.metadata.name} has no memory limit`).toBeDefined();
    }
  });
});
