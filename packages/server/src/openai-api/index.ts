/**
 * The OpenAI-compatible API (SPEC §4): `POST /v1/chat/completions` (streaming and not) and
 * `GET /v1/models`, with organization API keys. The response's `model` is the model that answered;
 * `x-understudy-*` headers report fallback; a fallback after streaming began is announced in the
 * stream. Errors use OpenAI's shape: a real status before any content, an in-band error after.
 */
import type { AnswerError, AnswerResult } from '@understudy/engine';
import type { FastifyError, FastifyInstance } from 'fastify';
import { z } from 'zod';
import { API_KEY, principalOf } from '../auth/index.js';
import type { AppContext } from '../context.js';
import {
  HttpError,
  databaseUnavailable,
  describeIssues,
  frameworkClientError,
  parse,
} from '../http/index.js';
import { newId } from '../storage/index.js';
import { ApiAnswers } from './in-flight.js';
import { CompletionBody, toChatRequest } from './request.js';
import { OpenAIError, completion, failure, fallbackHeaders, refusalSoFar } from './shape.js';
import { streamCompletion } from './stream.js';

export { OpenAIError } from './shape.js';

// A wildcard: an id of the list may hold a slash ("meta-llama/…" named after its upstream model).
const ModelParams = z.strictObject({ '*': z.string().min(1).max(200) });

/** A model of the list by the id a client sent (`default` names the Default Model), or a 404. */
function modelOf<M extends { id: string }>(
  catalog: { models: M[]; defaultModelId?: string },
  model: string,
): M {
  const id = model === 'default' ? catalog.defaultModelId : model;
  const m = catalog.models.find((x) => x.id === id);
  if (!m) throw modelNotFound(model);
  return m;
}

/** 404 in OpenAI's words for a model id that is not in the organization's list. */
const modelNotFound = (model: string) =>
  new OpenAIError(
    404,
    'invalid_request_error',
    'model_not_found',
    `The model "${model}" does not exist in this organization's list (GET /v1/models).`,
    'model',
  );

/**
 * Registers the /v1 routes in their own scope (OpenAI-shaped errors); returns their answers in
 * flight, for the graceful stop.
 */
export function registerOpenAIRoutes(app: FastifyInstance, ctx: AppContext): ApiAnswers {
  const inFlight = new ApiAnswers();
  void app.register(async (v1) => {
    v1.setErrorHandler((err: FastifyError | HttpError | OpenAIError, request, reply) => {
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
      if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
        const e = frameworkClientError(err, request, reply, ctx.config.bodyLimitBytes);
        return reply
          .code(e.status)
          .send(new OpenAIError(e.status, 'invalid_request_error', e.code, e.message).body());
      }
      const down = databaseUnavailable(err, request, reply);
      if (down)
        return reply
          .code(down.status)
          .send(new OpenAIError(down.status, 'server_error', down.code, down.message).body());
      ctx.log.error({ err }, 'OpenAI-compatible API failed');
      return reply.code(500).send(new OpenAIError(500, 'server_error', null, 'internal error').body());
    });

    /** A model of the list as OpenAI shows one, with our label and whether it is the default. */
    const modelObject = (
      m: { id: string; providerId: string; label: string },
      defaultId: string | undefined,
    ) => ({
      id: m.id,
      object: 'model',
      created: 0,
      owned_by: m.providerId,
      label: m.label,
      default: m.id === defaultId,
    });

    v1.get('/v1/models', { config: { access: API_KEY } }, async (request) => {
      const p = principalOf(request);
      const catalog = await ctx.catalogs.get(p.orgId);
      return { object: 'list', data: catalog.models.map((m) => modelObject(m, catalog.defaultModelId)) };
    });

    // OpenAI's SDKs call it (models.retrieve); `default` names the organization's Default Model.
    v1.get('/v1/models/*', { config: { access: API_KEY } }, async (request) => {
      const p = principalOf(request);
      const model = parse(ModelParams, request.params, 'params')['*'];
      const catalog = await ctx.catalogs.get(p.orgId);
      return modelObject(modelOf(catalog, model), catalog.defaultModelId);
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
      const { id: modelId, providerId } = modelOf(catalog, body.model);
      // Tracked until its response is over, so that a graceful stop waits for it.
      const answer = inFlight.begin();
      const gone = () => {
        // The API client went away: cancel upstream (SPEC §2.1), unlike the web chat.
        if (!reply.raw.writableFinished) answer.clientGone();
        answer.end();
      };
      // A client that left while the request was authenticated and read has had its 'close' already.
      if (reply.raw.destroyed) gone();
      else reply.raw.on('close', gone);
      const events = ctx.engineFor(p.orgId).answer({
        catalog,
        modelId,
        request: toChatRequest(body),
        signal: answer.signal,
        // A streaming client holds the partial text, so a backup continues it; a whole answer's
        // client has seen nothing yet, so a backup answers afresh (fallback stays invisible, and a
        // half-received tool call, which no backup can continue, is no reason to fail the answer).
        takeover: body.stream ? 'instruct' : 'restart',
      });
      const finish = (result: AnswerResult) => {
        ctx.metrics.answer('api', result);
        ctx.fallbacks.record({ orgId: p.orgId, surface: 'api', result });
      };
      const id = `chatcmpl-${newId()}`;
      const created = Math.floor(Date.now() / 1000);
      if (body.stream) {
        const includeUsage = body.stream_options?.include_usage === true;
        return streamCompletion(reply, events, {
          id,
          created,
          modelId,
          providerId,
          finish,
          answer,
          includeUsage,
        });
      }

      let result: AnswerResult | undefined;
      let error: AnswerError | undefined;
      const seen = refusalSoFar();
      let refusal = false;
      for await (const ev of events) {
        refusal = seen(ev);
        if (ev.type === 'done') result = ev.result;
        else if (ev.type === 'error') {
          result = ev.result;
          error = ev.error;
        }
      }
      if (!result) throw new OpenAIError(500, 'server_error', null, 'the answer ended without a result');
      const failed = error !== undefined || result.status !== 'complete';
      reply.headers(
        failed
          ? fallbackHeaders(undefined, undefined, result.fallback)
          : fallbackHeaders(result.modelId, result.providerId, result.fallback),
      );
      if (failed) {
        const e = failure(answer, error);
        reply.code(e.status).headers(e.headers()).send(e.body());
      } else {
        reply.send(completion(id, created, result, refusal));
      }
      // Bookkeeping after the response is on its way: the client does not wait for our metrics.
      finish(result);
      return reply;
    });
  });
  return inFlight;
}
