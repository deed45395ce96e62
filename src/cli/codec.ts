/**
 * `quickmig codec-server`: the Temporal Web UI's codec endpoint for encrypted payloads. The UI (or
 * `temporal server start-dev --ui-codec-endpoint URL`) posts `{payloads: [...]}` to `/decode` (and
 * `/encode`); this answers with the payloads decoded with the key file. It holds the key: run it where
 * the operators are, on loopback or behind the same access control as the UI.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { JsonPayload } from '../codec/codec';
import { AesGcmPayloadCodec, fromJson, loadEncryptionKey, toJson } from '../codec/codec';
import { ENCRYPTION_KEY_FILE_ENV } from '../config/config';
import { command, outputOf } from './command';
import { CliError, ExitCode } from './errors';

/** Builds the codec endpoint's request handler (tests use it without the CLI). */
export function codecHandler(codec: AesGcmPayloadCodec, origin: string) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
    res.setHeader('access-control-allow-headers', 'content-type, x-namespace, authorization');
    res.setHeader('access-control-allow-credentials', 'true');
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    const path = new URL(req.url ?? '/', 'http://codec').pathname;
    if (req.method !== 'POST' || (path !== '/decode' && path !== '/encode')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('POST /decode or /encode\n');
      return;
    }
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { payloads?: JsonPayload[] };
      const payloads = (body.payloads ?? []).map(fromJson);
      const out = path === '/decode' ? await codec.decode(payloads) : await codec.encode(payloads);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ payloads: out.map(toJson) }));
    } catch (error) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`${(error as Error).message}\n`);
    }
  };
}

/** `quickmig codec-server`: runs the codec endpoint until SIGINT or SIGTERM. */
export const codecServerCommand = command({
  meta: {
    name: 'codec-server',
    description: "The Temporal UI's codec endpoint: POST /decode and /encode for encrypted payloads",
  },
  args: {
    'key-file': {
      type: 'string',
      valueHint: 'FILE',
      description: `The worker's payload key (default: ${ENCRYPTION_KEY_FILE_ENV})`,
    },
    listen: {
      type: 'string',
      valueHint: 'HOST:PORT',
      default: '127.0.0.1:8888',
      description: 'Address to listen on',
    },
    origin: {
      type: 'string',
      valueHint: 'URL',
      default: 'http://localhost:8233',
      description: "The UI's origin allowed by CORS",
    },
  },
  notes: `Point the UI at it: temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8888, or the UI's
TEMPORAL_CODEC_ENDPOINT, or the "Codec Server" setting of the UI's data encoder.`,
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    const keyFile = args['key-file'] ?? process.env[ENCRYPTION_KEY_FILE_ENV];
    if (!keyFile)
      throw new CliError(
        `--key-file: give the worker's key file (or set ${ENCRYPTION_KEY_FILE_ENV})`,
        ExitCode.usage,
      );
    const codec = new AesGcmPayloadCodec(loadEncryptionKey(keyFile));
    const at = args.listen.lastIndexOf(':');
    const host = args.listen.slice(0, at);
    const port = Number(args.listen.slice(at + 1));
    if (at < 0 || !Number.isInteger(port) || port < 0 || port > 65535)
      throw new CliError(`--listen: give HOST:PORT (got ${JSON.stringify(args.listen)})`, ExitCode.usage);
    const server = createServer((req, res) => void codecHandler(codec, args.origin)(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address();
    const bound = typeof address === 'object' && address ? `${address.address}:${address.port}` : args.listen;
    out.progress(`codec server on http://${bound} (key ${codec.encryptionKey.id}); UI origin ${args.origin}`);
    await new Promise<void>((resolve) => {
      const stop = () => server.close(() => resolve());
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  },
});
