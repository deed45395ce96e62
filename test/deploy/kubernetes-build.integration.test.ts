/**
 * deploy/kubernetes rendered as `kubectl apply -k` renders it, by kustomize's own library
 * (test/deploy/kustomize-check, a small Go program), from a copy given the files an operator adds (the
 * passwords under secrets/, the CA): every object is valid against the Kubernetes API schemas
 * (kubernetes-models), the generated ConfigMap and Secret hold the files worker.json names, both deployments
 * mount them by their generated names, and the image is the pinned one of kustomization.yaml.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { projectRoot } from '../../src/lab/tools';

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
  spec?: {
    template?: {
      spec: {
        containers: { image: string }[];
        volumes: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[];
      };
    };
  };
}

const source = join(projectRoot, 'deploy', 'kubernetes');
let rendered: K8sObject[];

function render(dir: string): { code: number | null; stdout: string; stderr: string } {
  const checker = join(mkdtempSync(join(tmpdir(), 'quickmig-kustomize-check-')), 'kustomize-check');
  execFileSync('go', ['build', '-o', checker, '.'], {
    cwd: join(projectRoot, 'test', 'deploy', 'kustomize-check'),
  });
  const run = spawnSync(checker, [dir], { encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** A copy of deploy/kubernetes with the files the operator provides (not in git). */
function withOperatorFiles(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'quickmig-k8s-')), 'kubernetes');
  cpSync(source, dir, { recursive: true });
  mkdirSync(join(dir, 'secrets'), { recursive: true });
  writeFileSync(join(dir, 'secrets', 'vcenter-password'), 'the-vcenter-password');
  writeFileSync(join(dir, 'secrets', 'esx-a-password'), 'the-esx-a-password');
  writeFileSync(
    join(dir, 'vcenter-ca.pem'),
    '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  );
  return dir;
}

beforeAll(() => {
  const run = render(withOperatorFiles());
  expect(run.stderr).toBe('');
  rendered = parseAllDocuments(run.stdout).map((d) => d.toJS() as K8sObject);
});

describe('deploy/kubernetes, rendered by kustomize', () => {
  it('renders valid objects of the API in namespace quickmig', () => {
    const models = { ConfigMap, Deployment, Namespace, Secret, Service } as const;
    expect(rendered.map((o) => o.kind).sort()).toEqual([
      'ConfigMap',
      'Deployment',
      'Deployment',
      'Namespace',
      'Secret',
      'Service',
    ]);
    for (const object of rendered) {
      const Model = models[object.kind as keyof typeof models];
      expect(
        () => new Model(object as never).validate(),
        `${object.kind} ${object.metadata.name}`,
      ).not.toThrow();
      if (object.kind !== 'Namespace') expect(object.metadata.namespace).toBe('quickmig');
    }
  });

  it('generates the ConfigMap and Secret from the files, and both deployments mount them by their generated names', () => {
    const configMap = rendered.find((o) => o.kind === 'ConfigMap');
    const secret = rendered.find((o) => o.kind === 'Secret');
    expect(Object.keys(configMap?.data ?? {}).sort()).toEqual(['vcenter-ca.pem', 'worker.json']);
    expect(JSON.parse(configMap?.data?.['worker.json'] ?? '{}')).toEqual(
      JSON.parse(readFileSync(join(source, 'worker.json'), 'utf8')),
    );
    expect(Object.keys(secret?.data ?? {}).sort()).toEqual(['esx-a-password', 'vcenter-password']);
    expect(Buffer.from(secret?.data?.['vcenter-password'] ?? '', 'base64').toString()).toBe(
      'the-vcenter-password',
    );
    // Generated names carry a content hash, so a changed file rolls the pods.
    expect(configMap?.metadata.name).toMatch(/^quickmig-config-[a-z0-9]+$/);
    for (const deployment of rendered.filter((o) => o.kind === 'Deployment')) {
      const volumes = deployment.spec?.template?.spec.volumes ?? [];
      expect(volumes.find((v) => v.name === 'config')?.configMap?.name).toBe(configMap?.metadata.name);
      expect(volumes.find((v) => v.name === 'vsphere-passwords')?.secret?.secretName).toBe(
        secret?.metadata.name,
      );
      expect(deployment.spec?.template?.spec.containers[0]?.image).toBe(
        'registry.example.com/quickmig:0.1.0',
      );
    }
  });

  it('refuses to render without the password files (the check can fail)', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'quickmig-k8s-')), 'kubernetes');
    cpSync(source, dir, { recursive: true });
    const run = render(dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/secrets\/vcenter-password|vcenter-ca\.pem/);
  });
});
