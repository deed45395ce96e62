/**
 * @internal The worker-thread half of a file copy (see ./mover.ts): GETs datastore files, hashes them
 * (SHA-256) and hands their bytes to the parent thread in fixed blocks, which the parent uploads and hands
 * back for reuse. Moving the download's TLS decryption, HTTP parsing and hashing here gives a copy two
 * runnable threads, like `curl | curl` has two processes; reusing the blocks keeps the copy's memory
 * fixed (no garbage per byte).
 *
 * Plain JavaScript on purpose: a worker thread does not inherit the TypeScript loader of the process
 * (tsx), and loading it in every thread would cost ~200 ms and ~30 MiB. It uses Node built-ins only.
 *
 * Trust: the parent passes the endpoint's trust as its client checks it (src/vsphere/tls.ts). With a
 * pinned thumbprint, the request is written only after the certificate matched the pin, exactly as the
 * client's own agent does; otherwise Node verifies the chain (the given CAs) and the host name.
 *
 * Messages in:  {type:'start', id, url, cookie, trust, blockSize, maxBlocks, idleTimeoutMs}
 *               {type:'free', id, buf}   a block the parent has uploaded (transferred back), also
 *                                        after its download ended: kept for the next download
 *               {type:'abort', id}
 * Messages out: {type:'head', id, status, length, body}  body only for a refused request, which ends it
 *               {type:'block', id, buf, bytes, size}     buf transferred; bytes = running total
 *               {type:'end', id, bytes, sha256}
 *               {type:'error', id, message, code, idle, expected, actual}  code UNFRAMED: not a
 *                                                        Content-Length answer, copy it elsewhere
 */
import { createHash } from 'node:crypto';
import { connect } from 'node:tls';
import { parentPort } from 'node:worker_threads';

const port = parentPort;
if (port === null) throw new Error('download-thread runs as a worker thread only');

/** @type {Map<number, Download>} */
const downloads = new Map();

port.on('message', (msg) => {
  if (msg.type === 'start') {
    const d = new Download(msg);
    downloads.set(msg.id, d);
    d.start();
  } else if (msg.type === 'free') {
    const d = downloads.get(msg.id);
    if (d === undefined) recycle(msg.buf);
    else d.free(msg.buf);
  } else if (msg.type === 'abort') {
    downloads.get(msg.id)?.abort();
  }
});

/**
 * Blocks of finished downloads, for the next ones. Without it every download allocated its own blocks, and
 * those handed back after it ended were garbage that this thread, which allocates little else, collected
 * only every few dozen MiB: its external memory grew by 40 MiB over a sweep of migrations (bench/TUNING.md,
 * fifth round).
 */
const pool = [];
/** Pooled blocks at most (8 MiB of 512 KiB blocks): what four downloads in parallel hold. */
const POOL_MAX = 16;

/** Keeps a block that no download holds any more, unless the pool is full or the block was transferred. */
function recycle(buf) {
  if (buf.byteLength > 0 && pool.length < POOL_MAX) pool.push(buf);
}

const HEAD_MAX = 64 * 1024;
/** Where reads go after a download has finished. */
const discard = Buffer.alloc(16 * 1024);

/**
 * One GET. The response is read straight from the TLS socket into the blocks (`onread`): no HTTP parser
 * and no buffer per TLS record on the data path, only the parse of the response head below. The file
 * API answers a file with its Content-Length; any other framing is reported as `unframed` and the
 * parent copies that file itself.
 */
class Download {
  constructor(msg) {
    this.id = msg.id;
    this.url = new URL(msg.url);
    this.cookie = msg.cookie;
    this.trust = msg.trust;
    this.blockSize = msg.blockSize;
    this.maxBlocks = msg.maxBlocks;
    this.idleTimeoutMs = msg.idleTimeoutMs;
    this.hash = createHash('sha256');
    /** Body bytes handed over so far. */
    this.bytes = 0;
    /** Content-Length; -1 until the head is read. */
    this.length = -1;
    /** @type {ArrayBuffer[]} */
    this.spare = [];
    /** Blocks this download has taken, new or pooled: at most maxBlocks. */
    this.taken = 0;
    /** @type {Buffer} The block being filled; before the body starts, it also holds the head. */
    this.block = this.#take();
    this.fill = 0;
    /** Set for a refused request: the status, and its body collected up to 4 KiB. */
    this.refused = undefined;
    this.done = false;
    /** True while reading waits for a block to come back. */
    this.paused = false;
    this.socket = undefined;
    this.timer = undefined;
  }

  start() {
    this.timer = setTimeout(() => this.#idle(), this.idleTimeoutMs);
    const t = this.trust;
    const host = this.url.hostname.replace(/^\[|\]$/g, '');
    const socket = connect({
      host,
      port: Number(this.url.port || 443),
      servername: /^[\d.]+$|:/.test(host) ? undefined : host,
      rejectUnauthorized: t.kind === 'ca',
      ca: t.kind === 'ca' ? t.ca : undefined,
      onread: {
        // Each read lands where the current block continues.
        buffer: () => this.#room(),
        callback: (n) => this.#onRead(n),
      },
    });
    this.socket = socket;
    socket.once('error', (err) => this.#fail(err));
    socket.once('close', () => this.#onClose());
    socket.once('secureConnect', () => {
      if (t.kind === 'thumbprint') {
        // The pin is the identity: nothing is written before the certificate matched it.
        const actual = socket.getPeerX509Certificate()?.fingerprint256;
        if (actual !== t.thumbprint) {
          this.#fail(
            Object.assign(new Error('thumbprint mismatch'), {
              code: 'THUMBPRINT_MISMATCH',
              expected: t.thumbprint,
              actual,
            }),
          );
          return;
        }
      }
      const target = `${this.url.pathname}${this.url.search}`;
      const lines = [`GET ${target} HTTP/1.1`, `Host: ${this.url.host}`, 'Accept: */*', 'Connection: close'];
      if (this.cookie !== undefined) lines.push(`Cookie: ${this.cookie}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    });
  }

  /** Where the next read goes: the rest of the current block, or a fresh block when it is full. */
  #room() {
    // Finished (its last block handed over): whatever still arrives is dropped.
    if (this.done) return discard;
    if (this.fill === this.block.length) {
      if (this.length < 0) {
        // A head larger than a block is not an answer of the file API.
        this.#fail(new Error('the response head is too large'));
        return discard;
      }
      this.#send();
      this.block = this.#take();
    }
    return this.block.subarray(this.fill);
  }

  #onRead(n) {
    if (this.done) return false;
    this.timer?.refresh();
    this.fill += n;
    if (this.length < 0 && !this.#parseHead()) return true;
    if (this.refused !== undefined) {
      this.#collectRefused();
      return true;
    }
    if (this.bytes + this.fill > this.length) {
      this.#fail(new Error(`the source sent more than its ${this.length} bytes`));
      return false;
    }
    if (this.bytes + this.fill === this.length) {
      this.#end();
      return false;
    }
    if (this.fill === this.block.length) {
      this.#send();
      this.block = this.#take();
    }
    // Out of blocks: the upload is behind; read on once it returns one (back-pressure).
    if (this.spare.length === 0 && this.taken >= this.maxBlocks) {
      this.paused = true;
      return false;
    }
    return true;
  }

  /** Parses the head once it is complete; moves what follows it (body bytes) to the block's start. */
  #parseHead() {
    const end = this.block.subarray(0, this.fill).indexOf('\r\n\r\n', 0, 'latin1');
    if (end < 0) {
      if (this.fill >= HEAD_MAX) this.#fail(new Error('the response head is too large'));
      return false;
    }
    const [statusLine, ...headerLines] = this.block.toString('latin1', 0, end).split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
    const headers = new Map();
    for (const line of headerLines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const bodyStart = end + 4;
    this.block.copyWithin(0, bodyStart, this.fill);
    this.fill -= bodyStart;
    const length = Number(headers.get('content-length'));
    const framed =
      headers.has('content-length') &&
      Number.isSafeInteger(length) &&
      length >= 0 &&
      (headers.get('transfer-encoding') ?? 'identity').toLowerCase() === 'identity';
    if (status < 200 || status >= 300) {
      this.length = framed ? length : Number.MAX_SAFE_INTEGER;
      this.refused = { status, body: '' };
      return true;
    }
    if (status === 0 || !framed) {
      this.#finish({ type: 'error', id: this.id, message: 'unframed', code: 'UNFRAMED' });
      return false;
    }
    this.length = length;
    port.postMessage({ type: 'head', id: this.id, status, length, body: undefined });
    return true;
  }

  /** Keeps up to 4 KiB of a refused request's body; reports it once the body or the connection ends. */
  #collectRefused() {
    const r = this.refused;
    if (r.body.length < 4096) r.body += this.block.toString('utf8', 0, Math.min(this.fill, 4096));
    this.bytes += this.fill;
    this.fill = 0;
    if (this.bytes >= this.length) this.#reportRefused();
  }

  #reportRefused() {
    const { status, body } = this.refused;
    this.#finish({ type: 'head', id: this.id, status, length: undefined, body });
  }

  #onClose() {
    if (this.done) return;
    if (this.refused !== undefined) {
      this.#reportRefused();
      return;
    }
    const got = this.length < 0 ? 0 : this.bytes + this.fill;
    const expected = this.length < 0 ? '' : ` of its ${this.length} bytes`;
    this.#fail(
      Object.assign(new Error(`the connection closed after ${got}${expected} bytes`), {
        code: 'ECONNRESET',
      }),
    );
  }

  #end() {
    if (this.fill > 0) this.#send();
    this.#finish({ type: 'end', id: this.id, bytes: this.bytes, sha256: this.hash.digest('hex') });
  }

  /** Hashes the current block's bytes and transfers the block to the parent. */
  #send() {
    const view = this.block.subarray(0, this.fill);
    this.hash.update(view);
    this.bytes += this.fill;
    const buf = this.block.buffer;
    port.postMessage({ type: 'block', id: this.id, buf, bytes: this.bytes, size: view.length }, [buf]);
    this.fill = 0;
  }

  /** A free block: a returned one, else a pooled one, else a new one. */
  #take() {
    const buf = this.spare.pop();
    if (buf !== undefined) return Buffer.from(buf);
    this.taken += 1;
    const i = pool.findIndex((b) => b.byteLength === this.blockSize);
    if (i >= 0) return Buffer.from(pool.splice(i, 1)[0]);
    // A whole ArrayBuffer of its own (not Node's shared pool), so that it can be transferred.
    return Buffer.from(new ArrayBuffer(this.blockSize));
  }

  /** A block back from the parent while this download runs (a finished one is out of `downloads`). */
  free(buf) {
    this.timer?.refresh();
    this.spare.push(buf);
    if (this.paused) {
      this.paused = false;
      this.socket?.resume();
    }
  }

  abort() {
    if (this.done) return;
    this.done = true;
    this.#cleanup();
  }

  #idle() {
    this.#fail(Object.assign(new Error('no byte moved'), { code: 'ETIMEDOUT', idle: true }));
  }

  #fail(err) {
    if (this.done) return;
    this.#finish({
      type: 'error',
      id: this.id,
      message: err?.message ?? String(err),
      code: err?.code,
      idle: err?.idle === true,
      expected: err?.expected,
      actual: err?.actual,
    });
  }

  #finish(msg) {
    if (this.done) return;
    this.done = true;
    port.postMessage(msg);
    this.#cleanup();
  }

  #cleanup() {
    clearTimeout(this.timer);
    downloads.delete(this.id);
    for (const buf of this.spare) recycle(buf);
    this.spare = [];
    // The block being filled, unless it went to the parent (a transferred buffer is detached: 0 bytes).
    recycle(this.block.buffer);
    this.socket?.destroy();
  }
}
