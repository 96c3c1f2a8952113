/**
 * The stream driver every adapter shares: send, classify an error status, yield `open`, decode
 * SSE (or a whole JSON body) through the protocol's parser, and release the socket correctly on
 * every path. Protocol folders only translate; the I/O discipline lives here, once.
 */
import {
  ProviderError,
  redact,
  type CancelSignal,
  type ChatRequest,
  type ModelTarget,
  type ProviderEvent,
} from '@understudy/engine';
import type { Dispatcher } from 'undici';
import {
  errorFromResponse,
  headerValue,
  readBounded,
  release,
  send,
  toProviderError,
  type ResponseBody,
} from './http/index.js';
import { parseJson, truncate } from './json.js';
import { secretsOf, type ResponseParser, type WireProtocol } from './protocol.js';
import { SseDecoder, type SseEvent } from './sse/index.js';

/** Settings of the driver. */
export interface RunOptions {
  dispatcher: Dispatcher;
  /** Bound on one SSE line or event. */
  maxLineBytes: number;
  /** Bound on a whole non-streaming JSON body. */
  maxBodyBytes: number;
}

/** Default bound on a non-streaming JSON completion. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** True for a JSON body (a server that ignored `stream: true`); anything else is read as SSE. */
function isJsonBody(contentType: string | undefined): boolean {
  return contentType !== undefined && /\bjson\b/i.test(contentType) && !/event-stream/i.test(contentType);
}

/** Streams one upstream call as canonical events; every failure is thrown as a `ProviderError`. */
export async function* runProtocol(
  protocol: WireProtocol,
  target: ModelTarget,
  request: ChatRequest,
  signal: CancelSignal,
  opts: RunOptions,
): AsyncGenerator<ProviderEvent, void, undefined> {
  const secrets = secretsOf(target.provider);
  const { http, parser } = protocol.prepare(target, request);
  const res = await send(http, signal, opts.dispatcher, secrets);
  // Set once the body was read to its end or to the protocol's terminator: only then is the
  // socket worth keeping; any other exit (error, abort, consumer stopped early) destroys it.
  let clean = false;
  try {
    if (res.statusCode < 200 || res.statusCode >= 300) {
      // errorFromResponse reads the bounded body to its end or destroys it.
      throw await errorFromResponse(res, signal, secrets);
    }
    yield { type: 'open' };
    const contentType = headerValue(res.headers, 'content-type');
    if (isJsonBody(contentType)) {
      yield* jsonEvents(res.body, parser, opts.maxBodyBytes, secrets);
    } else {
      // Stopping at the terminator leaves the body as it is: `release` below drains it (socket
      // reused) after a clean finish and destroys it on every other path.
      yield* sseEvents(parser, res.body, opts.maxLineBytes);
    }
    clean = true;
  } catch (err) {
    // A ProviderError (provider error event, bound) passes through unless the call was aborted.
    throw toProviderError(err, signal, true, secrets);
  } finally {
    release(res.body, clean && !signal.aborted);
  }
}

/**
 * Decodes an SSE byte stream through a protocol's parser up to its terminator or the end. Pure
 * (no I/O of its own), so tests drive exactly this path with arbitrary chunkings.
 *
 * Text deltas that arrive in the same network read are merged into one `text` event: it costs the
 * reader nothing (they arrived together) and saves every layer above one async step per delta,
 * which is most of a gateway's CPU when a provider sends a whole answer in one burst.
 */
export async function* sseEvents(
  parser: ResponseParser,
  chunks: AsyncIterable<Uint8Array>,
  maxLineBytes: number,
): AsyncGenerator<ProviderEvent, void, undefined> {
  const decoder = new SseDecoder(maxLineBytes);
  const batch: ProviderEvent[] = [];
  /** Parses SSE events into the batch; returns what it threw, if anything. */
  const parse = (read: () => readonly SseEvent[]): { failure: unknown } | undefined => {
    try {
      for (const ev of read()) {
        for (const out of parser.event(ev)) pushMerged(batch, out);
        if (parser.done) break;
      }
      return undefined;
    } catch (failure) {
      return { failure };
    }
  };
  let failed: { failure: unknown } | undefined;
  for await (const chunk of chunks) {
    failed = parse(() => decoder.push(chunk));
    // Events parsed before a failure (a provider error event, the bound) really arrived: pass them on first.
    for (const ev of batch.splice(0)) yield ev;
    if (failed || parser.done) break;
  }
  if (!failed && !parser.done) {
    failed = parse(() => decoder.end());
    for (const ev of batch.splice(0)) yield ev;
  }
  if (failed) throw failed.failure;
  // Loops, not `yield*`: delegating to an array from an async generator goes through an
  // async-from-sync wrapper, several times the cost of the loop.
  for (const ev of parser.end()) yield ev;
}

/** Appends an event, merging a text delta into a text delta just before it. */
function pushMerged(batch: ProviderEvent[], ev: ProviderEvent): void {
  const last = batch[batch.length - 1];
  if (ev.type === 'text' && last?.type === 'text')
    batch[batch.length - 1] = { type: 'text', text: last.text + ev.text };
  else batch.push(ev);
}

/** Reads a bounded JSON body and hands it to the parser in one piece. */
async function* jsonEvents(
  body: ResponseBody,
  parser: ResponseParser,
  maxBodyBytes: number,
  secrets: readonly (string | undefined)[],
): AsyncGenerator<ProviderEvent, void, undefined> {
  const { text, truncated } = await readBounded(body, maxBodyBytes);
  if (truncated) {
    throw new ProviderError({
      reason: 'interrupted',
      message: `provider response body exceeds ${maxBodyBytes} bytes; stopped reading`,
      inStream: true,
    });
  }
  const parsed = parseJson(text);
  if (!parsed.ok) {
    yield { type: 'malformed', detail: redact(`unparseable JSON body: ${truncate(text, 200)}`, secrets) };
    return;
  }
  for (const ev of parser.json(parsed.value)) yield ev;
  for (const ev of parser.end()) yield ev;
}
