/** Test helpers: fixture loading, a local node:http server that observes its sockets, targets. */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  ProviderError,
  type ModelConfig,
  type ProviderConfig,
  type ProviderEvent,
  type ProviderType,
} from '@understudy/engine';
import fc from 'fast-check';
import { protocolFor, sseEvents } from '../src/index.js';

/** The key every fixture test uses; some error fixtures echo it, and it must never come back out. */
export const KEY = 'understudy-fixture-key-7f3a9c';

export const FIXTURES = new URL('./fixtures/', import.meta.url);

export type Protocol = 'openai' | 'anthropic' | 'google';

/** What a fixture's `.expected.json` states. */
export interface Expected {
  events: ProviderEvent[];
  error?: ErrorShape;
}

/** The parts of a ProviderError the fixtures assert. */
export interface ErrorShape {
  reason: string;
  status?: number;
  code?: string;
  retryAfterMs?: number;
  inStream?: boolean;
}

/** One recorded error response. */
export interface ErrorFixture {
  name: string;
  status: number;
  headers?: Record<string, string>;
  body: string;
  expect: ErrorShape;
}

/** Stream fixture names (`*.sse`) of a protocol. */
export function streamFixtures(protocol: Protocol): string[] {
  return readdirSync(new URL(`${protocol}/`, FIXTURES))
    .filter((f) => f.endsWith('.sse'))
    .map((f) => f.slice(0, -4))
    .sort();
}

/** Whole-body JSON fixture names (`*.json` with an expectation) of a protocol. */
export function jsonFixtures(protocol: Protocol): string[] {
  return readdirSync(new URL(`${protocol}/`, FIXTURES))
    .filter((f) => f.endsWith('.json') && !f.endsWith('.expected.json') && f !== 'errors.json')
    .map((f) => f.slice(0, -5))
    .sort();
}

/** Raw bytes of a fixture file. */
export function fixtureBytes(protocol: Protocol, file: string): Buffer {
  return readFileSync(new URL(`${protocol}/${file}`, FIXTURES));
}

/** The expectation of a fixture. */
export function expected(protocol: Protocol, name: string): Expected {
  const want = JSON.parse(fixtureBytes(protocol, `${name}.expected.json`).toString('utf8')) as Expected;
  return { ...want, events: mergeText(want.events) };
}

/**
 * Adjacent text deltas merged into one. The driver merges the deltas of one network read, so
 * where text events split depends on the framing; their text, order and neighbours do not.
 */
export function mergeText(events: readonly ProviderEvent[]): ProviderEvent[] {
  const out: ProviderEvent[] = [];
  for (const ev of events) {
    const last = out[out.length - 1];
    if (ev.type === 'text' && last?.type === 'text')
      out[out.length - 1] = { type: 'text', text: last.text + ev.text };
    else out.push(ev);
  }
  return out;
}

/** The recorded error responses of a protocol. */
export function errorFixtures(protocol: Protocol): ErrorFixture[] {
  return JSON.parse(fixtureBytes(protocol, 'errors.json').toString('utf8')) as ErrorFixture[];
}

/** The provider type used to exercise a protocol. */
export const TYPE_OF: Record<Protocol, ProviderType> = {
  openai: 'openai',
  anthropic: 'anthropic',
  google: 'google',
};

/** A provider config pointing at a local server. */
export function provider(
  type: ProviderType,
  baseUrl: string,
  extra: Partial<ProviderConfig> = {},
): ProviderConfig {
  return { id: `p-${type}`, type, label: type, baseUrl, apiKey: KEY, ...extra };
}

/** A model config. */
export function model(extra: Partial<ModelConfig> = {}): ModelConfig {
  return {
    id: 'm1',
    providerId: 'p',
    upstreamModel: 'test-model',
    label: 'Test model',
    tier: 2,
    capabilities: [],
    tags: [],
    enabled: true,
    ...extra,
  };
}

/** The base URL a protocol's provider uses on a local server. */
export function baseUrlFor(protocol: Protocol, origin: string): string {
  return protocol === 'openai' ? `${origin}/v1` : origin;
}

/** The comparable part of a ProviderError. */
export function shape(err: ProviderError): ErrorShape {
  const s: ErrorShape = { reason: err.reason };
  if (err.status !== undefined) s.status = err.status;
  if (err.code !== undefined) s.code = err.code;
  if (err.retryAfterMs !== undefined) s.retryAfterMs = err.retryAfterMs;
  if (err.inStream) s.inStream = true;
  return s;
}

/** Events of an iterable until it ends or throws; a thrown non-ProviderError fails the test. */
export async function collect(
  events: AsyncIterable<ProviderEvent>,
): Promise<{ events: ProviderEvent[]; error?: ProviderError }> {
  const out: ProviderEvent[] = [];
  try {
    for await (const e of events) out.push(e);
    return { events: out };
  } catch (err) {
    if (!(err instanceof ProviderError)) throw err;
    return { events: out, error: err };
  }
}

/** Compares an outcome with a fixture's expectation, error details picked to the asserted fields. */
export function outcome(r: { events: ProviderEvent[]; error?: ProviderError }): Expected {
  const events = mergeText(r.events);
  return r.error ? { events, error: shape(r.error) } : { events };
}

/** A request the server recorded. */
export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The client's port: one value per connection, so reuse is visible. */
  remotePort: number | undefined;
}

/** A local server that tracks its sockets (open, closed, when) and the requests it got. */
export interface TestServer {
  origin: string;
  port: number;
  requests: Recorded[];
  /** Sockets currently open. */
  open: Set<Socket>;
  /** Connections accepted so far. */
  connections: number;
  /** Resolves when the next socket closes, with the time it closed. */
  nextClose(): Promise<number>;
  close(): Promise<void>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void | Promise<void>;

/** Starts a server on 127.0.0.1 with an ephemeral port. */
export async function startServer(handler: Handler): Promise<TestServer> {
  const open = new Set<Socket>();
  const closeWaiters: ((t: number) => void)[] = [];
  const state = { connections: 0 };
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        remotePort: req.socket.remotePort,
      });
      void handler(req, res, body);
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (socket: Socket) => {
    state.connections++;
    open.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => {
      open.delete(socket);
      const t = performance.now();
      for (const w of closeWaiters.splice(0)) w(t);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    open,
    get connections() {
      return state.connections;
    },
    nextClose: () => new Promise<number>((resolve) => closeWaiters.push(resolve)),
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Writes chunks one by one, yielding to the event loop between them so they travel separately. */
export async function writeChunks(res: http.ServerResponse, chunks: readonly Uint8Array[]): Promise<void> {
  for (const c of chunks) {
    if (res.destroyed) return;
    res.write(c);
    await new Promise((r) => setImmediate(r));
  }
  res.end();
}

/** Waits until `cond` holds, polling, or fails after `ms`. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const until = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Splits bytes at the given positions. */
export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    if (p > prev) out.push(bytes.subarray(prev, p));
    prev = Math.max(prev, p);
  }
  return out;
}

/** An async iterable over in-memory chunks. */
export async function* fromChunks(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) yield c;
}

/** Runs bytes through exactly the driver's SSE path with a fresh parser. */
export function parse(protocol: Protocol, chunks: Uint8Array[]) {
  const wire = protocolFor(TYPE_OF[protocol]);
  assert.ok(wire);
  const target = { provider: provider(TYPE_OF[protocol], 'http://unused'), model: model() };
  const { parser } = wire.prepare(target, { messages: [{ role: 'user', content: 'Hi' }] });
  return collect(sseEvents(parser, fromChunks(chunks), 1024 * 1024));
}

/** Positions to cut a byte stream at (taken modulo its length). */
export const positionsArb = fc.array(fc.nat(1_000_000), { maxLength: 60 });

/** Where to cut a byte stream: arbitrary positions, or every byte on its own. */
export const cutsArb = fc.oneof(
  positionsArb,
  fc.constant('bytes' as const), // every byte its own chunk
);

/** Bytes cut as `cutsArb` said. */
export function chunk(bytes: Uint8Array, cuts: number[] | 'bytes'): Uint8Array[] {
  return cuts === 'bytes' ? [...bytes].map((b) => Uint8Array.of(b)) : splitAt(bytes, cuts);
}
