/**
 * Load generation: autocannon for throughput, and small undici clients where autocannon cannot
 * measure what we need (sub-millisecond latency of one connection, time to the first streamed
 * token, chunks delivered).
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { Client, Pool, request } from 'undici';
import { cpuMs, sampleRss } from './procs.js';
import { ratio } from './stats.js';

/** One system under test in one scenario: where to send a chat completion and how. */
export interface Target {
  /** e.g. `understudy`, `limit`, `peer`, `direct`. */
  system: string;
  url: string;
  headers: Record<string, string>;
  /** The `model` of the request body. */
  model: string;
  /** The process whose CPU time and memory are charged to this system. */
  pid: number;
}

const PROMPT = 'Tell me something about benchmarks.';

/** The request body for a target. */
export function chatBody(t: Target, stream: boolean): string {
  return JSON.stringify({ model: t.model, stream, messages: [{ role: 'user', content: PROMPT }] });
}

function requestHeaders(t: Target): Record<string, string> {
  return { ...t.headers, 'content-type': 'application/json' };
}

export interface LatencyResult {
  /** Milliseconds per successful request. */
  samples: number[];
  errors: number;
}

/** One connection, one request at a time, for `durationMs`: latency of each whole answer. */
export async function sequentialLatency(t: Target, durationMs: number): Promise<LatencyResult> {
  const u = new URL(t.url);
  const client = new Client(u.origin, { pipelining: 1, keepAliveTimeout: 30_000 });
  const body = chatBody(t, false);
  const headers = requestHeaders(t);
  const samples: number[] = [];
  let errors = 0;
  const end = performance.now() + durationMs;
  try {
    while (performance.now() < end) {
      const start = performance.now();
      try {
        const r = await client.request({ path: u.pathname, method: 'POST', headers, body });
        await r.body.text();
        if (r.statusCode === 200) samples.push(performance.now() - start);
        else errors++;
      } catch {
        errors++;
      }
    }
  } finally {
    await client.close().catch(() => undefined);
  }
  return { samples, errors };
}

export interface ThroughputResult {
  rps: number;
  ok: number;
  errors: number;
  elapsedS: number;
}

/** autocannon: `connections` keep-alive connections as fast as they go, whole answers. */
export async function throughput(
  t: Target,
  connections: number,
  durationS: number,
): Promise<ThroughputResult> {
  const started = performance.now();
  const r = await autocannon({
    url: t.url,
    method: 'POST',
    headers: requestHeaders(t),
    body: chatBody(t, false),
    connections,
    duration: durationS,
    timeout: 10,
  });
  const elapsedS = (performance.now() - started) / 1000;
  const ok = r['2xx'];
  return { rps: ok / elapsedS, ok, errors: r.errors + r.timeouts + r.non2xx, elapsedS };
}

export interface CostedThroughputResult extends ThroughputResult {
  /** CPU time of the target's process per successful request. */
  cpuMsPerRequest: number;
  /** The target process's highest resident memory, sampled every 250 ms. */
  peakRssMiB: number;
}

/** {@link throughput}, with what it cost the target's process: CPU per request and peak RSS. */
export async function costedThroughput(
  t: Target,
  connections: number,
  durationS: number,
): Promise<CostedThroughputResult> {
  const rss = sampleRss(t.pid, 250);
  const cpu0 = cpuMs(t.pid);
  const res = await throughput(t, connections, durationS);
  const cpu = cpuMs(t.pid) - cpu0;
  return { ...res, cpuMsPerRequest: ratio(cpu, res.ok), peakRssMiB: Math.max(...rss.stop()) };
}

/** The content of an OpenAI chat.completion.chunk, if it has any. */
function contentOf(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || !('choices' in v) || !Array.isArray(v.choices)) return undefined;
  const c: unknown = v.choices[0];
  if (typeof c !== 'object' || c === null || !('delta' in c)) return undefined;
  const d: unknown = c.delta;
  if (typeof d !== 'object' || d === null || !('content' in d) || typeof d.content !== 'string')
    return undefined;
  return d.content;
}

/** Counts content chunks of an SSE body as it arrives; calls `onFirst` at the first one. */
class SseCounter {
  private buf = '';
  chunks = 0;
  constructor(private readonly onFirst: () => void) {}
  push(text: string): void {
    this.buf += text;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '[DONE]' || data === '') continue;
      let v: unknown;
      try {
        v = JSON.parse(data);
      } catch {
        continue;
      }
      const content = contentOf(v);
      if (content === undefined || content === '') continue;
      if (this.chunks === 0) this.onFirst();
      this.chunks++;
    }
  }
}

export interface StreamingResult {
  /** Milliseconds from request start to the first content chunk, per stream. */
  ttfts: number[];
  /** Content chunks delivered. */
  chunks: number;
  completed: number;
  errors: number;
}

/**
 * `concurrency` streams at a time for `durationMs` (streams in flight at the end complete). With
 * `staggerMs`, stream i starts i × staggerMs late: a steady state rather than a burst of arrivals.
 */
export async function streaming(
  t: Target,
  concurrency: number,
  durationMs: number,
  staggerMs = 0,
): Promise<StreamingResult> {
  const u = new URL(t.url);
  const pool = new Pool(u.origin, { connections: concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  const body = chatBody(t, true);
  const headers = requestHeaders(t);
  const out: StreamingResult = { ttfts: [], chunks: 0, completed: 0, errors: 0 };
  const end = performance.now() + durationMs;
  const worker = async (_: unknown, i: number) => {
    if (staggerMs > 0) await sleep(i * staggerMs);
    while (performance.now() < end) {
      const start = performance.now();
      try {
        const r = await pool.request({
          path: u.pathname,
          method: 'POST',
          headers,
          body,
          bodyTimeout: 30_000,
        });
        if (r.statusCode !== 200) {
          await r.body.dump();
          out.errors++;
          continue;
        }
        const counter = new SseCounter(() => out.ttfts.push(performance.now() - start));
        r.body.setEncoding('utf8');
        for await (const chunk of r.body) counter.push(chunk as string);
        out.chunks += counter.chunks;
        if (counter.chunks > 0) out.completed++;
        else out.errors++;
      } catch {
        out.errors++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await pool.close().catch(() => undefined);
  }
  return out;
}

export interface FirstTokenResult {
  /** Milliseconds from request start to the first content chunk; undefined if none came in time. */
  ttftMs: number | undefined;
  status: number;
  /** Which upstream answered, as the gateway's response headers say. */
  answeredBy: string;
}

/** One streaming request: time to its first content chunk, giving up after `capMs`. */
export async function firstToken(t: Target, capMs: number): Promise<FirstTokenResult> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(new Error('cap reached')), capMs);
  const start = performance.now();
  let ttftMs: number | undefined;
  let status = 0;
  let answeredBy = '';
  try {
    const r = await request(t.url, {
      method: 'POST',
      headers: requestHeaders(t),
      body: chatBody(t, true),
      signal: ctl.signal,
    });
    status = r.statusCode;
    const h = r.headers;
    answeredBy = String(
      h['x-understudy-model'] ?? h['x-portkey-last-used-option-index'] ?? h['x-limit-target'] ?? '',
    );
    const counter = new SseCounter(() => (ttftMs ??= performance.now() - start));
    r.body.setEncoding('utf8');
    for await (const chunk of r.body) {
      counter.push(chunk as string);
      if (ttftMs !== undefined) break;
    }
  } catch {
    // cap reached or connection failed: ttftMs stays as it is
  } finally {
    clearTimeout(timer);
    ctl.abort();
  }
  return { ttftMs, status, answeredBy };
}
