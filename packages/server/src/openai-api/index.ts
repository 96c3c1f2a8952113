/**
 * The OpenAI-compatible API (SPEC §4): `POST /v1/chat/completions` (streaming and not) and
 * `GET /v1/models`, with organization API keys. The response's `model` is the model that answered;
 * `x-understudy-*` headers report fallback; a fallback after streaming began is announced in the
 * stream. Errors use OpenAI's shape: a real status before any content, an in-band error after.
 */
import type {
  AnswerError,
  AnswerEvent,
  AnswerResult,
  FailureReason,
  FallbackRecord,
} from '@understudy/engine';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { API_KEY, principalOf } from '../auth/index.js';
import type { AppContext } from '../context.js';
import { HttpError, describeIssues } from '../http/index.js';
import { newId } from '../storage/index.js';
import { ApiAnswers, type ApiAnswer } from './in-flight.js';
import { CompletionBody, toChatRequest } from './request.js';

/** An error in OpenAI's shape. */
class OpenAIError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string | null,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
  body() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

const STATUS_BY_REASON: Record<FailureReason, [number, string, string]> = {
  bad_request: [400, 'invalid_request_error', 'invalid_request'],
  content_filtered: [400, 'invalid_request_error', 'content_filter'],
  context_too_long: [400, 'invalid_request_error', 'context_length_exceeded'],
  rate_limited: [429, 'rate_limit_error', 'rate_limit_exceeded'],
  overloaded: [503, 'server_error', 'overloaded'],
  timeout: [504, 'server_error', 'timeout'],
  unreachable: [502, 'server_error', 'upstream_unreachable'],
  provider_error: [502, 'server_error', 'upstream_error'],
  provider_misconfigured: [502, 'server_error', 'upstream_misconfigured'],
  interrupted: [502, 'server_error', 'upstream_interrupted'],
  cancelled: [499, 'server_error', 'cancelled'],
};

function answerError(e: AnswerError): OpenAIError {
  const [status, type, code] = STATUS_BY_REASON[e.reason];
  return new OpenAIError(status, type, code, e.message);
}

/** What a client whose answer was cut by a server stop (past its grace period) is told. */
const shuttingDown = () =>
  new OpenAIError(
    503,
    'server_error',
    'server_shutting_down',
    'The server is shutting down; retry the request.',
  );

/** The error a client gets for an answer that did not complete. */
function failure(answer: ApiAnswer, error: AnswerError | undefined): OpenAIError {
  if (answer.cancelledByShutdown) return shuttingDown();
  return error ? answerError(error) : new OpenAIError(499, 'server_error', 'cancelled', 'cancelled');
}

function fallbackHeaders(
  model: string,
  provider: string,
  f: FallbackRecord | undefined,
): Record<string, string> {
  const h: Record<string, string> = { 'x-understudy-model': model, 'x-understudy-provider': provider };
  if (f) {
    h['x-understudy-fallback-from'] = f.originalModelId;
    h['x-understudy-fallback-provider'] = f.originalProviderId;
    h['x-understudy-fallback-reason'] = f.reason;
  }
  return h;
}

function fallbackInfo(f: FallbackRecord) {
  return {
    original_model: f.originalModelId,
    original_provider: f.originalProviderId,
    reason: f.reason,
    backup_model: f.backupModelId,
    backup_provider: f.backupProviderId,
    mode: f.mode,
  };
}

function usageOf(r: AnswerResult) {
  return {
    prompt_tokens: r.usage.inputTokens,
    completion_tokens: r.usage.outputTokens,
    total_tokens: r.usage.inputTokens + r.usage.outputTokens,
  };
}

/**
 * Registers the /v1 routes in their own scope (OpenAI-shaped errors); returns their answers in
 * flight, for the graceful stop.
 */
export function registerOpenAIRoutes(app: FastifyInstance, ctx: AppContext): ApiAnswers {
  const inFlight = new ApiAnswers();
  void app.register(async (v1) => {
    v1.setErrorHandler((err: FastifyError | HttpError | OpenAIError, _request, reply) => {
      if (err instanceof OpenAIError) return reply.code(err.status).send(err.body());
      if (err instanceof HttpError) {
        const type =
          err.status === 401
            ? 'invalid_request_error'
            : err.status === 403
              ? 'permission_error'
              : 'invalid_request_error';
        return reply.code(err.status).send(new OpenAIError(err.status, type, err.code, err.message).body());
      }
      const status =
        typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500
          ? err.statusCode
          : 500;
      if (status === 500) ctx.log.error({ err }, 'OpenAI-compatible API failed');
      const message = status === 500 ? 'internal error' : err.message;
      return reply
        .code(status)
        .send(
          new OpenAIError(
            status,
            status === 500 ? 'server_error' : 'invalid_request_error',
            err.code ?? null,
            message,
          ).body(),
        );
    });

    v1.get('/v1/models', { config: { access: API_KEY } }, async (request) => {
      const p = principalOf(request);
      const catalog = await ctx.catalogs.get(p.orgId);
      return {
        object: 'list',
        data: catalog.models.map((m) => ({
          id: m.id,
          object: 'model',
          created: 0,
          owned_by: m.providerId,
          label: m.label,
          default: m.id === catalog.defaultModelId,
        })),
      };
    });

    v1.post('/v1/chat/completions', { config: { access: API_KEY } }, async (request, reply) => {
      const p = principalOf(request);
      const parsed = CompletionBody.safeParse(request.body);
      if (!parsed.success) {
        const first = parsed.error.issues[0];
        throw new OpenAIError(
          400,
          'invalid_request_error',
          'invalid_request',
          describeIssues(parsed.error, 'body'),
          first?.path.map(String).join('.') || null,
        );
      }
      const body = parsed.data;
      const catalog = await ctx.catalogs.get(p.orgId);
      const modelId = body.model === 'default' ? catalog.defaultModelId : body.model;
      if (!catalog.models.some((m) => m.id === modelId)) {
        throw new OpenAIError(
          404,
          'invalid_request_error',
          'model_not_found',
          `The model "${body.model}" does not exist in this organization's list (GET /v1/models).`,
          'model',
        );
      }
      // Tracked until its response is over, so that a graceful stop waits for it.
      const answer = inFlight.begin();
      reply.raw.on('close', () => {
        // The API client went away: cancel upstream (SPEC §2.1), unlike the web chat.
        if (!reply.raw.writableFinished) answer.clientGone();
        answer.end();
      });
      const events = ctx.engineFor(p.orgId).answer({
        catalog,
        modelId,
        request: toChatRequest(body),
        signal: answer.signal,
        takeover: 'instruct',
      });
      const finish = (result: AnswerResult) => {
        ctx.metrics.answer('api', result);
        ctx.fallbacks.record({ orgId: p.orgId, surface: 'api', result });
      };
      const id = `chatcmpl-${newId()}`;
      const created = Math.floor(Date.now() / 1000);
      if (body.stream) {
        const providerId = catalog.models.find((m) => m.id === modelId)?.providerId ?? '';
        return streamCompletion(reply, events, { id, created, modelId, providerId, finish, answer });
      }

      let result: AnswerResult | undefined;
      let error: AnswerError | undefined;
      for await (const ev of events) {
        if (ev.type === 'done') result = ev.result;
        else if (ev.type === 'error') {
          result = ev.result;
          error = ev.error;
        }
      }
      if (!result) throw new OpenAIError(500, 'server_error', null, 'the answer ended without a result');
      reply.headers(fallbackHeaders(result.modelId, result.providerId, result.fallback));
      if (error || result.status !== 'complete') {
        const e = failure(answer, error);
        reply.code(e.status).send(e.body());
      } else {
        reply.send(completion(id, created, result));
      }
      // Bookkeeping after the response is on its way: the client does not wait for our metrics.
      finish(result);
      return reply;
    });
  });
  return inFlight;
}

/** The chat.completion body of a completed answer. */
function completion(id: string, created: number, result: AnswerResult) {
  const message: Record<string, unknown> = { role: 'assistant', content: result.text, refusal: null };
  if (result.toolCalls.length) {
    message.tool_calls = result.toolCalls.map((t) => ({
      id: t.id,
      type: 'function',
      function: { name: t.name, arguments: t.arguments },
    }));
  }
  return {
    id,
    object: 'chat.completion',
    created,
    model: result.modelId,
    choices: [{ index: 0, message, finish_reason: result.finishReason ?? 'stop', logprobs: null }],
    usage: usageOf(result),
    system_fingerprint: null,
    ...(result.fallback && { understudy: { fallback: fallbackInfo(result.fallback) } }),
  };
}

/**
 * Streams chat.completion.chunk events. Headers wait for the first content (or the end), so a
 * failure before content gets a real HTTP status and a fallback before content shows in headers.
 */
async function streamCompletion(
  reply: FastifyReply,
  events: AsyncIterable<AnswerEvent>,
  o: {
    id: string;
    created: number;
    modelId: string;
    providerId: string;
    finish: (r: AnswerResult) => void;
    answer: ApiAnswer;
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
  const chunk = (
    delta: Record<string, unknown>,
    finishReason: string | null = null,
    extra: Record<string, unknown> = {},
  ) =>
    write({
      id: o.id,
      object: 'chat.completion.chunk',
      created: o.created,
      model,
      system_fingerprint: null,
      choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
      ...extra,
    });
  const openStream = (providerId: string) => {
    if (open) return;
    open = true;
    reply.hijack();
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...fallbackHeaders(model, providerId, fallback),
    });
    chunk({ role: 'assistant', content: '' });
  };
  const targetProvider = () => provider ?? o.providerId;

  for await (const ev of events) {
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
        chunk({ content: ev.text });
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
            reply.headers(fallbackHeaders(r.modelId, r.providerId, r.fallback));
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
        chunk({}, r.finishReason ?? 'stop');
        // Usage is always reported, whether or not stream_options.include_usage was asked.
        write({
          id: o.id,
          object: 'chat.completion.chunk',
          created: o.created,
          model,
          system_fingerprint: null,
          choices: [],
          usage: usageOf(r),
        });
        if (!res.destroyed) res.end('data: [DONE]\n\n');
        return o.finish(r);
      }
    }
  }
}
