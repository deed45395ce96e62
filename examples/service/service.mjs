#!/usr/bin/env node
/**
 * An example service that other systems call to migrate a VM: it validates the request, starts the migration
 * through the quickmig client package, and streams its progress until the report. Plain Node, no framework;
 * it holds no vSphere credentials (the quickmig worker does) and reaches Temporal as the CLI does
 * (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY or a `temporal` CLI profile).
 *
 *   npm install quickmig && node service.mjs            # PORT (default 8088)
 *
 *   POST /migrations                a migration request (schema: quickmig/schema/migration-request.schema.json)
 *        202 { id, vm, events }     started; 400 { error, problems } when the request is invalid;
 *                                   409 { error, id } when the VM is already being migrated
 *   GET  /migrations/:id/events     Server-Sent Events: `progress` (phase, step, bytes, downtime so far) as the
 *                                   migration moves, then one `completed` (the report) or `failed` event
 *   GET  /healthz                   200 when a quickmig worker polls the task queue, else 503
 */
import { createServer } from 'node:http';
import {
  MigrationAlreadyRunningError,
  MigrationCancelledError,
  MigrationFailedError,
  MigrationNotFoundError,
  QuickmigClient,
  RequestSyntaxError,
  RequestValidationError,
} from 'quickmig';

const client = await QuickmigClient.connect();
const port = Number(process.env.PORT ?? 8088);

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
}

async function startMigration(req, res) {
  let request;
  try {
    request = await readJson(req);
  } catch (error) {
    return send(res, 400, { error: `the body is not JSON: ${error.message}` });
  }
  try {
    const started = await client.start(request);
    return send(res, 202, { id: started.id, vm: started.vm, events: `/migrations/${started.id}/events` });
  } catch (error) {
    if (error instanceof RequestValidationError || error instanceof RequestSyntaxError)
      return send(res, 400, { error: error.message, problems: error.problems ?? [] });
    if (error instanceof MigrationAlreadyRunningError)
      return send(res, 409, { error: error.message, id: error.migrationId });
    throw error;
  }
}

async function streamEvents(id, res) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  const event = (name, data) => res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  const stop = new AbortController();
  res.on('close', () => stop.abort());
  try {
    for await (const p of client.watch(id, { signal: stop.signal })) {
      event('progress', {
        status: p.status,
        phase: p.phase,
        step: p.step,
        bytesDone: p.bytes.done,
        bytesTotal: p.bytes.total,
        rateBytesPerSec: p.rateBytesPerSec,
        downtimeSoFarMs: p.downtimeSoFarMs,
        awaitingApproval: p.awaitingApproval,
      });
    }
    const result = await client.result(id);
    event('completed', {
      method: result.method,
      mode: result.mode,
      downtimeMs: result.downtimeMs,
      bytesCopied: result.bytesCopied,
      target: result.target,
    });
  } catch (error) {
    if (stop.signal.aborted) return;
    const known = [MigrationFailedError, MigrationCancelledError, MigrationNotFoundError].some(
      (E) => error instanceof E,
    );
    event('failed', { error: known ? error.message : `unexpected: ${error.message}`, type: error.name });
  }
  res.end();
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://service');
  const events = /^\/migrations\/([^/]+)\/events$/.exec(url.pathname);
  const handle =
    req.method === 'POST' && url.pathname === '/migrations'
      ? startMigration(req, res)
      : req.method === 'GET' && events
        ? streamEvents(decodeURIComponent(events[1]), res)
        : req.method === 'GET' && url.pathname === '/healthz'
          ? client.workerCount().then((n) => send(res, n > 0 ? 200 : 503, { workers: n }))
          : Promise.resolve(send(res, 404, { error: `no route ${req.method} ${url.pathname}` }));
  handle.catch((error) => {
    console.error(error);
    if (!res.headersSent) send(res, 500, { error: error.message });
    else res.end();
  });
});

server.listen(port, () =>
  console.log(`quickmig example service on http://127.0.0.1:${server.address().port}`),
);
for (const signal of ['SIGINT', 'SIGTERM'])
  process.once(signal, () => server.close(() => client.close().then(() => process.exit(0))));
