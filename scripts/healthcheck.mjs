#!/usr/bin/env node
/**
 * The worker image's health check (Dockerfile HEALTHCHECK, compose, the Kubernetes probes): asks the worker's
 * own Prometheus endpoint, so it needs no port or code of its own in the worker.
 *
 *   node scripts/healthcheck.mjs            alive: the metrics endpoint answers (the process and its Temporal
 *                                           runtime are up)
 *   node scripts/healthcheck.mjs --ready    ready: also at least one poller on a task queue of this worker
 *                                           (`temporal_num_pollers` > 0), i.e. it is connected to Temporal and
 *                                           takes work
 *
 * The port comes from QUICKMIG_METRICS_PORT (PORT or HOST:PORT, as the worker reads it), else `--port`.
 * Exit 0 when healthy; 1 with one line on stderr that says what is wrong.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** Sum of the samples of one metric in a Prometheus text exposition (0 when it is absent). */
export function sumOf(text, metric) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match?.[1] === metric) sum += Number(match[3]);
  }
  return sum;
}

/** The URL of the metrics endpoint for a QUICKMIG_METRICS_PORT value; 0.0.0.0 and :: are probed on loopback. */
export function metricsUrl(value) {
  const bind = /^\d+$/.test(value) ? `127.0.0.1:${value}` : value;
  const at = bind.lastIndexOf(':');
  let host = bind.slice(0, at);
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  if (host === '[::]' || host === '::') host = '[::1]';
  return `http://${host}:${bind.slice(at + 1)}/metrics`;
}

/** Checks the worker; resolves to an error message, or undefined when healthy. */
export async function check({ port, ready, timeoutMs = 4000 }) {
  if (!port)
    return 'no metrics endpoint to probe: set QUICKMIG_METRICS_PORT (the worker serves /metrics there) or pass --port';
  const url = metricsUrl(port);
  let text;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return `${url} answered HTTP ${response.status}`;
    text = await response.text();
  } catch (error) {
    return `${url} does not answer: ${error instanceof Error ? error.message : String(error)}`;
  }
  if (ready && !(sumOf(text, 'temporal_num_pollers') > 0))
    return `${url}: no poller on any task queue yet (temporal_num_pollers is 0): the worker is not taking work`;
  return undefined;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: { ready: { type: 'boolean', default: false }, port: { type: 'string' } },
  });
  const problem = await check({
    port: values.port ?? process.env.QUICKMIG_METRICS_PORT,
    ready: values.ready,
  });
  if (problem) {
    process.stderr.write(`quickmig healthcheck: ${problem}\n`);
    process.exit(1);
  }
}
