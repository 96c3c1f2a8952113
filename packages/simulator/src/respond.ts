/** Plays one answer over an exchange: healthy, or with the resolved fault, streaming or whole. */
import { STATUS_FAULTS, type AppliedFault, type Effect } from './effect.js';
import type { Exchange } from './exchange.js';
import { untilAborted, wait } from './io.js';
import type { AnswerPlan, ChatRequest } from './plan.js';
import type {
  EncodeContext,
  ErrorKind,
  ErrorSpec,
  ProtocolAdapter,
  StreamErrorKind,
} from './protocols/shared.js';

/** Delay before the first token for slow_first_token without `delayMs`. */
export const DEFAULT_SLOW_FIRST_TOKEN_MS = 2000;
/** Interval of keep-alive frames while no_first_token holds a stream open. */
export const KEEPALIVE_MS = 1000;

/** Characters of a no-delay burst written at once: small answers stay one write, long ones wait for the client. */
const BURST_PIECE = 64 * 1024;
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };
const MIDSTREAM = new Set<AppliedFault>([
  'cut_after',
  'stall_after',
  'overloaded_midstream',
  'server_error_midstream',
  'rate_limit_midstream',
]);

/** The in-stream error each `*_midstream` fault sends (and its HTTP error in a whole answer). */
const MIDSTREAM_ERROR = {
  overloaded_midstream: 'overloaded',
  server_error_midstream: 'server_error',
  rate_limit_midstream: 'rate_limit',
} as const satisfies Partial<Record<AppliedFault, StreamErrorKind>>;

/** True for a fault that sends an error event inside the stream. */
function isMidstreamError(f: AppliedFault | undefined): f is keyof typeof MIDSTREAM_ERROR {
  return f !== undefined && Object.hasOwn(MIDSTREAM_ERROR, f);
}

/** Everything needed to answer one request. */
export interface Answer {
  adapter: ProtocolAdapter;
  request: ChatRequest;
  plan: AnswerPlan;
  effect: Effect;
  encode: EncodeContext;
  chunkDelayMs: number;
}

/** Sends a pre-content error (Gemini's 200 safety block becomes an SSE frame when streaming). */
export function sendError(x: Exchange, spec: ErrorSpec, stream: boolean, retryAfter?: number): void {
  const extra: Record<string, string> = retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) };
  if (spec.status === 200 && stream) {
    x.writeHead(200, { ...SSE_HEADERS, ...extra });
    x.end(`data: ${JSON.stringify(spec.body)}\n\n`);
    return;
  }
  const text = JSON.stringify(spec.body);
  x.writeHead(spec.status, {
    ...extra,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  });
  x.end(text);
}

function errorFor(a: Answer, kind: ErrorKind): ErrorSpec {
  const info = { model: a.request.requestedModel, inputTokens: a.plan.inputTokens, ...optional(a.effect) };
  return a.adapter.error(kind, info);
}

function optional(effect: Effect): { contextWindow?: number; retryAfter?: number } {
  const out: { contextWindow?: number; retryAfter?: number } = {};
  if (effect.contextWindow !== undefined) out.contextWindow = effect.contextWindow;
  if (effect.retryAfter !== undefined) out.retryAfter = effect.retryAfter;
  return out;
}

/** Answers the request on `x` according to `a.effect`. Resolves when the response is over. */
export async function respond(x: Exchange, a: Answer): Promise<void> {
  const { fault, delayMs } = a.effect;
  if (fault !== undefined && fault !== 'slow_first_token' && delayMs !== undefined) {
    if (!(await wait(delayMs, x.signal))) return;
  }
  if (fault === 'reset') return x.reset();
  if (fault === 'no_response' || (fault === 'no_first_token' && !a.request.stream))
    return untilAborted(x.signal);
  if (fault !== undefined && STATUS_FAULTS.has(fault)) {
    return sendError(x, errorFor(a, fault as ErrorKind), a.request.stream, a.effect.retryAfter);
  }
  return a.request.stream ? stream(x, a) : whole(x, a);
}

async function whole(x: Exchange, a: Answer): Promise<void> {
  const fault = a.effect.fault;
  // A whole answer has no stream to fail in: the same error comes as the HTTP error response.
  if (isMidstreamError(fault))
    return sendError(x, errorFor(a, MIDSTREAM_ERROR[fault]), false, a.effect.retryAfter);
  if (
    fault === 'slow_first_token' &&
    !(await wait(a.effect.delayMs ?? DEFAULT_SLOW_FIRST_TOKEN_MS, x.signal))
  )
    return;
  // Faults that only exist in streams do not apply to a whole answer.
  if (fault === 'malformed' || fault === 'no_done') delete x.record.fault;
  const chunks = a.plan.chunks;
  const text = JSON.stringify(a.adapter.whole(a.encode, chunks));
  const headers = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) };
  x.writeHead(200, headers);
  if (fault === 'stall_after') return untilAborted(x.signal);
  if (fault === 'cut_after') {
    x.write(text.slice(0, Math.floor(text.length / 2)));
    return x.cut();
  }
  chunks.forEach(() => x.token());
  x.end(text);
}

async function stream(x: Exchange, a: Answer): Promise<void> {
  const { fault, after } = a.effect;
  x.writeHead(200, SSE_HEADERS);
  const enc = a.adapter.encoder(a.encode);
  x.write(enc.head());
  if (fault === 'no_first_token') {
    while (await wait(KEEPALIVE_MS, x.signal)) x.write(enc.keepAlive());
    return;
  }
  if (
    fault === 'slow_first_token' &&
    !(await wait(a.effect.delayMs ?? DEFAULT_SLOW_FIRST_TOKEN_MS, x.signal))
  )
    return;
  const chunks = a.plan.chunks;
  const stopAt = fault !== undefined && MIDSTREAM.has(fault) ? Math.min(after, chunks.length) : chunks.length;
  // Chunks with no delay between them are one burst: joined and written once. A client cannot tell
  // (http corks the socket for the tick, so they shared TCP segments anyway), and one chunked write
  // per frame made a streamed answer cost the simulator about twice its whole-JSON answer. A long
  // burst goes out in pieces, each after the client took the last (backpressure, as a real server).
  let burst = '';
  const send = a.chunkDelayMs > 0 ? (f: string) => x.write(f) : (f: string) => void (burst += f);
  for (let i = 0; i < stopAt; i++) {
    if (i > 0 && a.chunkDelayMs > 0 && !(await wait(a.chunkDelayMs, x.signal))) return;
    if (burst.length >= BURST_PIECE) {
      x.write(burst);
      burst = '';
    }
    if (x.behind && !(await x.drained())) return;
    if (x.closed) return;
    if (fault === 'malformed' && i === after) send(enc.malformed());
    send(enc.chunk(i, chunks[i] ?? ''));
    x.token();
  }
  if (fault === 'malformed' && after >= chunks.length) send(enc.malformed());
  x.write(burst);
  if (isMidstreamError(fault)) return x.end(enc.error(MIDSTREAM_ERROR[fault]));
  switch (fault) {
    case 'cut_after':
      return x.cut();
    case 'stall_after':
      return untilAborted(x.signal);
    case 'no_done':
      return x.end(a.effect.withFinish ? enc.finish(x.record.tokensSent) : '');
    default:
      x.write(enc.finish(x.record.tokensSent));
      return x.end(enc.end());
  }
}
