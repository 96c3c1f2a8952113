/**
 * The "limit" of the benchmark: a bare `node:http` + `undici` passthrough proxy, the least any Node
 * gateway must do (receive, forward, relay). Usage: node --import tsx bench/limit-proxy.ts <port>
 *
 * Per request, headers say where to go (nothing is configured at start):
 * - `x-limit-primary`: base URL (e.g. `http://127.0.0.1:4010/p/alpha/v1`); the request path after
 *   `/v1` is appended.
 * - `x-limit-backup` (optional): tried once when the primary refuses the connection, answers 429 or
 *   5xx, or (with `x-limit-first-token-ms`) sends no first content in time. No health memory, no
 *   retries, no rewriting: the floor of what a fallback costs.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Cancellation } from '@understudy/engine';
import { Agent, request, type Dispatcher } from 'undici';

const agent = new Agent({ keepAliveTimeout: 30_000, connections: 256 });
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host']);
/** An SSE chunk carrying a content delta. */
const CONTENT = /"content":"[^"]/;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/**
 * Relays a body to the response with backpressure. Not `stream.pipeline`: it makes an
 * AbortController per call and aborts it when done, which builds a DOMException with a stack trace;
 * measured, that was a sixth of this proxy's added latency and a quarter of its CPU per request.
 */
function relay(body: Dispatcher.ResponseData['body'], res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const onDrain = () => body.resume();
    const fail = () => {
      res.off('drain', onDrain);
      body.destroy();
      res.destroy();
      resolve();
    };
    body.on('data', (c: Buffer) => {
      if (!res.write(c)) body.pause();
    });
    res.on('drain', onDrain);
    body.once('end', () => {
      res.off('drain', onDrain);
      res.end();
      resolve();
    });
    body.once('error', fail);
    res.once('close', () => {
      if (!res.writableFinished) fail();
    });
    // A body held until its first content was paused explicitly: a 'data' listener alone does not restart it.
    body.resume();
  });
}

function str(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Reads a body until a chunk with content (or its end), then pauses it for the relay. */
function holdUntilContent(
  body: Dispatcher.ResponseData['body'],
): Promise<{ head: Buffer[]; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const head: Buffer[] = [];
    const done = (ended: boolean) => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      if (!ended) body.pause();
      resolve({ head, ended });
    };
    const onData = (c: Buffer) => {
      head.push(c);
      if (CONTENT.test(c.toString('latin1'))) done(false);
    };
    const onEnd = () => done(true);
    const onError = (err: Error) => {
      body.off('data', onData);
      body.off('end', onEnd);
      reject(err);
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
  });
}

type Outcome =
  | { kind: 'ok'; data: Dispatcher.ResponseData; head: Buffer[]; ended: boolean }
  | { kind: 'failed'; status: number; message: string };

/** One upstream attempt; `ok` once there is something worth relaying. */
async function attempt(
  url: string,
  req: IncomingMessage,
  body: Buffer,
  ctl: Cancellation,
  firstTokenMs: number | undefined,
): Promise<Outcome> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const auth = str(req.headers.authorization);
  if (auth !== undefined) headers.authorization = auth;
  let timer: NodeJS.Timeout | undefined;
  if (firstTokenMs !== undefined)
    timer = setTimeout(() => ctl.abort(new Error('first token timeout')), firstTokenMs);
  try {
    const data = await request(url, {
      method: 'POST',
      headers,
      body,
      // An EventTarget with `aborted` and `reason`, which undici takes: Node 20's AbortController
      // costs ~3.6 µs to make, this ~40 ns. The one Understudy uses, so both pay the same.
      signal: ctl.signal as AbortSignal,
      dispatcher: agent,
    });
    if (data.statusCode === 429 || data.statusCode >= 500) {
      await data.body.dump();
      return { kind: 'failed', status: data.statusCode, message: `upstream ${data.statusCode}` };
    }
    const sse = String(data.headers['content-type'] ?? '').startsWith('text/event-stream');
    // Hold a stream until its first content, so that a silent primary can still be replaced.
    const held = timer !== undefined && sse ? await holdUntilContent(data.body) : { head: [], ended: false };
    return { kind: 'ok', data, ...held };
  } catch (err) {
    return { kind: 'failed', status: 502, message: err instanceof Error ? err.message : String(err) };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.url === '/_limit/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  const primary = str(req.headers['x-limit-primary']);
  if (primary === undefined || !req.url?.startsWith('/v1/')) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('x-limit-primary and a /v1/ path are required');
    return;
  }
  const backup = str(req.headers['x-limit-backup']);
  const ftRaw = str(req.headers['x-limit-first-token-ms']);
  const firstTokenMs = backup !== undefined && ftRaw !== undefined ? Number(ftRaw) : undefined;
  const body = await readBody(req);
  const suffix = req.url.slice(3);
  const targets = backup === undefined ? [primary] : [primary, backup];
  let last: Outcome | undefined;
  for (let i = 0; i < targets.length; i++) {
    const ctl = new Cancellation();
    const onClose = () => {
      if (!res.writableFinished) ctl.abort(new Error('client went away'));
    };
    res.once('close', onClose);
    const isLast = i === targets.length - 1;
    last = await attempt(`${targets[i]}${suffix}`, req, body, ctl, isLast ? undefined : firstTokenMs);
    if (last.kind === 'failed') {
      res.off('close', onClose);
      continue;
    }
    const { data, head, ended } = last;
    const out: Record<string, string | string[]> = { 'x-limit-target': i === 0 ? 'primary' : 'backup' };
    for (const [k, v] of Object.entries(data.headers)) if (v !== undefined && !HOP.has(k)) out[k] = v;
    res.writeHead(data.statusCode, out);
    for (const c of head) res.write(c);
    if (ended) res.end();
    else await relay(data.body, res);
    return;
  }
  const status = last?.kind === 'failed' ? last.status : 502;
  const message = last?.kind === 'failed' ? last.message : 'no upstream';
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message, type: 'server_error' } }));
}

const port = Number(process.argv[2] ?? 0);
const server = createServer((req, res) => {
  res.on('error', () => undefined);
  handle(req, res).catch(() => {
    if (!res.headersSent) res.writeHead(500).end();
    else res.destroy();
  });
});
server.keepAliveTimeout = 30_000;
server.listen(port, '127.0.0.1', () => console.log(`limit proxy on http://127.0.0.1:${port}`));
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
