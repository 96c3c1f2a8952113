/** A streamed chat completion: chat.completion.chunk events, with backpressure down to the socket. */
import type { AnswerEvent, AnswerResult, FallbackRecord } from '@understudy/engine';
import type { FastifyReply } from 'fastify';
import { CLIENT_STALL_MS, drained, SSE_HEADERS } from '../http/index.js';
import type { ApiAnswer } from './in-flight.js';
import { extension, failure, fallbackHeaders, fallbackInfo, refusalSoFar, usageOf } from './shape.js';

/**
 * Streams chat.completion.chunk events. Headers wait for the first content (or the end), so a
 * failure before content gets a real HTTP status and a fallback before content shows in headers.
 */
export async function streamCompletion(
  reply: FastifyReply,
  events: AsyncIterable<AnswerEvent>,
  o: {
    id: string;
    created: number;
    modelId: string;
    providerId: string;
    finish: (r: AnswerResult) => void;
    answer: ApiAnswer;
    /** How long the client may read nothing before it is disconnected (see `CLIENT_STALL_MS`). */
    stallMs?: number;
    /** `stream_options.include_usage`: usage comes in a chunk of its own, with no choices. */
    includeUsage?: boolean;
  },
): Promise<void> {
  let model = o.modelId;
  let provider: string | undefined;
  let fallback: FallbackRecord | undefined;
  let open = false;
  const res = reply.raw;
  const write = (data: unknown) => {
    if (!res.destroyed) res.write(`data: ${JSON.stringify(data)}\n\n`);
  };
  /** A chat.completion.chunk event with these fields after its common ones. */
  const event = (fields: Record<string, unknown>) =>
    write({
      id: o.id,
      object: 'chat.completion.chunk',
      created: o.created,
      model,
      system_fingerprint: null,
      ...fields,
    });
  const chunk = (
    delta: Record<string, unknown>,
    finishReason: string | null = null,
    extra: Record<string, unknown> = {},
  ) => event({ choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }], ...extra });
  const openStream = (providerId: string) => {
    if (open) return;
    open = true;
    reply.hijack();
    res.writeHead(200, { ...SSE_HEADERS, ...fallbackHeaders(model, providerId, fallback) });
    chunk({ role: 'assistant', content: '' });
  };
  const targetProvider = () => provider ?? o.providerId;
  // The client reads one `refusal` string, not a refusal followed by content.
  const refusalAfter = refusalSoFar();

  for await (const ev of events) {
    const refusing = refusalAfter(ev);
    switch (ev.type) {
      case 'fallback':
        fallback = ev.record;
        provider = ev.record.backupProviderId;
        model = ev.record.backupModelId;
        // After content began, the client already holds the primary's partial text: announce in-band.
        if (open) chunk({}, null, { understudy: { fallback: fallbackInfo(ev.record) } });
        break;
      case 'text':
        openStream(targetProvider());
        chunk(refusing ? { refusal: ev.text } : { content: ev.text });
        break;
      case 'tool_call':
        openStream(targetProvider());
        chunk({
          tool_calls: [
            {
              index: ev.index,
              ...(ev.id && { id: ev.id, type: 'function' }),
              function: { ...(ev.name && { name: ev.name }), arguments: ev.argumentsDelta },
            },
          ],
        });
        break;
      case 'usage':
        break;
      case 'done':
      case 'error': {
        const r = ev.result;
        if (ev.type === 'error' || r.status !== 'complete') {
          const e = failure(o.answer, ev.type === 'error' ? ev.error : undefined);
          if (!open) {
            reply.headers({ ...fallbackHeaders(undefined, undefined, r.fallback), ...e.headers() });
            reply.code(e.status).send(e.body());
          } else {
            write(e.body());
            res.end();
          }
          // Bookkeeping after the response is on its way, as for a whole answer.
          return o.finish(r);
        }
        model = r.modelId;
        openStream(r.providerId);
        // As OpenAI: a chunk with no choices, carrying the usage, only when include_usage asked for
        // it (a client's `chunk.choices[0]` would throw on it otherwise). Without it the usage still
        // rides on the finishing chunk, as an extra field clients ignore. That chunk marks an
        // estimate; the fallback was announced already (headers, or in-band).
        const marked = extension(r, false);
        if (o.includeUsage) {
          chunk({}, r.finishReason ?? 'stop');
          event({ choices: [], usage: usageOf(r), ...marked });
        } else chunk({}, r.finishReason ?? 'stop', { usage: usageOf(r), ...marked });
        if (!res.destroyed) res.end('data: [DONE]\n\n');
        return o.finish(r);
      }
    }
    // Backpressure: the next event is pulled only once the client took this one, so a slow reader
    // holds the rest of the answer upstream (the provider's socket), not in this process's memory.
    // A client that reads nothing for the stall time is disconnected, which cancels the answer.
    if (res.writableNeedDrain) await drained(res, o.answer.signal, o.stallMs ?? CLIENT_STALL_MS);
  }
}
