/**
 * The stream driver every adapter shares: send, classify an error status, yield `open`, decode
 * SSE (or a whole JSON body) through the protocol's parser, and release the socket correctly on
 * every path. Protocol folders only translate; the I/O discipline lives here, once.
 */
import {
  ProviderError,
  redact,
  type ChatRequest,
  type ModelTarget,
  type ProviderEvent,
} from '@understudy/engine';
import type { Dispatcher } from 'undici';
import { errorFromResponse, headerValue, readBounded, release, send, toProviderError } from './http/index.js';
import { parseJson, truncate } from './json.js';
import { secretsOf, type ResponseParser, type WireProtocol } from './protocol.js';
import { decodeSse } from './sse/index.js';

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
  signal: AbortSignal,
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
      // Not destroying on early return lets a body that stopped at its terminator be drained and
      // its socket reused; `release` below destroys it on every other path.
      const chunks = res.body.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array>;
      yield* sseEvents(parser, chunks, opts.maxLineBytes);
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
 */
export async function* sseEvents(
  parser: ResponseParser,
  chunks: AsyncIterable<Uint8Array>,
  maxLineBytes: number,
): AsyncGenerator<ProviderEvent, void, undefined> {
  for await (const ev of decodeSse(chunks, maxLineBytes)) {
    yield* parser.event(ev);
    if (parser.done) break;
  }
  yield* parser.end();
}

/** Reads a bounded JSON body and hands it to the parser in one piece. */
async function* jsonEvents(
  body: Dispatcher.ResponseData['body'],
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
  yield* parser.json(parsed.value);
  yield* parser.end();
}
