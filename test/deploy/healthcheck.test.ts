/**
 * scripts/healthcheck.mjs, the worker image's health check (compose, the Dockerfile, the Kubernetes probes),
 * run as the container runs it: a separate `node` process against an HTTP server that serves what the
 * worker's metrics endpoint serves. Its exit code is what Docker and Kubernetes act on.
 */
import { execFile } from 'node:child_process';
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/lab/tools';

let server: Server;
let port: number;
let body = '';
let status = 200;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(status, { 'content-type': 'text/plain; version=0.0.4' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function healthcheck(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(projectRoot, 'scripts', 'healthcheck.mjs'), ...args],
      { env: { PATH: process.env.PATH ?? '', ...env } },
      (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
    );
  });
}

const POLLING = `# HELP temporal_num_pollers Current number of active pollers per queue type
# TYPE temporal_num_pollers gauge
temporal_num_pollers{namespace="default",poller_type="workflow_task",task_queue="quickmig"} 2
temporal_num_pollers{namespace="default",poller_type="activity_task",task_queue="quickmig"} 5
`;
const NOT_POLLING = `# TYPE temporal_num_pollers gauge
temporal_num_pollers{namespace="default",poller_type="workflow_task",task_queue="quickmig"} 0
`;

describe('scripts/healthcheck.mjs', () => {
  it('is alive when the metrics endpoint answers, ready only once a task queue is polled', async () => {
    body = NOT_POLLING;
    status = 200;
    const env = { QUICKMIG_METRICS_PORT: String(port) };
    expect(await healthcheck([], env)).toEqual({ code: 0, stderr: '' });
    const notReady = await healthcheck(['--ready'], env);
    expect(notReady.code).toBe(1);
    expect(notReady.stderr).toContain('no poller on any task queue yet');
    body = POLLING;
    expect(await healthcheck(['--ready'], env)).toEqual({ code: 0, stderr: '' });
  });

  it('reads HOST:PORT as the worker does, and probes a wildcard bind on loopback', async () => {
    body = POLLING;
    expect((await healthcheck(['--ready'], { QUICKMIG_METRICS_PORT: `0.0.0.0:${port}` })).code).toBe(0);
    expect((await healthcheck(['--ready'], { QUICKMIG_METRICS_PORT: `127.0.0.1:${port}` })).code).toBe(0);
    expect((await healthcheck(['--ready', '--port', String(port)], {})).code).toBe(0);
  });

  it('fails with a reason when the endpoint errs, is not there, or is not configured', async () => {
    status = 503;
    const failing = await healthcheck([], { QUICKMIG_METRICS_PORT: String(port) });
    expect(failing.code).toBe(1);
    expect(failing.stderr).toContain('answered HTTP 503');
    status = 200;

    // A port nothing listens on: a server closed just now.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const dead = await healthcheck([], { QUICKMIG_METRICS_PORT: String(deadPort) });
    expect(dead.code).toBe(1);
    expect(dead.stderr).toContain(`http://127.0.0.1:${deadPort}/metrics does not answer`);

    const unset = await healthcheck([], {});
    expect(unset.code).toBe(1);
    expect(unset.stderr).toContain('set QUICKMIG_METRICS_PORT');
  });
});
