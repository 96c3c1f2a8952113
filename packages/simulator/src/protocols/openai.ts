/** OpenAI Chat Completions, and Azure OpenAI (same body, deployment in the path, `api-key`). */
import type { ChatMessage, ChatRequest } from '../plan.js';
import {
  STATUS,
  RequestError,
  contextNumbers,
  header,
  isRecord,
  optionalCount,
  sse,
  textOf,
  type EncodeContext,
  type ErrorInfo,
  type ErrorKind,
  type ErrorSpec,
  type ProtocolAdapter,
  type RequestContext,
  type StreamEncoder,
} from './shared.js';

interface OpenAIError {
  type: string;
  code: string | null;
  param?: string;
  message: string;
}

function describe(kind: ErrorKind, info: ErrorInfo): OpenAIError {
  switch (kind) {
    case 'rate_limit': {
      const wait = info.retryAfter === undefined ? '' : ` Please try again in ${info.retryAfter}s.`;
      const message = `Rate limit reached for requests on ${info.model}.${wait}`;
      return { type: 'requests', code: 'rate_limit_exceeded', message };
    }
    case 'server_error':
      return {
        type: 'server_error',
        code: null,
        message: 'The server had an error while processing your request.',
      };
    case 'bad_gateway':
      return { type: 'server_error', code: null, message: 'Bad gateway.' };
    case 'unavailable':
      return { type: 'server_error', code: 'service_unavailable', message: 'Service unavailable.' };
    case 'gateway_timeout':
      return { type: 'server_error', code: null, message: 'Gateway timeout.' };
    case 'overloaded':
      return { type: 'overloaded_error', code: null, message: 'Overloaded' };
    case 'unauthorized':
      return {
        type: 'invalid_request_error',
        code: 'invalid_api_key',
        message: 'Incorrect API key provided.',
      };
    case 'payment_required':
      return {
        type: 'insufficient_quota',
        code: 'insufficient_quota',
        message: 'You exceeded your current quota, please check your plan and billing details.',
      };
    case 'forbidden':
      return {
        type: 'permission_error',
        code: null,
        message: `You are not allowed to use the model ${info.model}.`,
      };
    case 'not_found':
      return {
        type: 'invalid_request_error',
        code: 'model_not_found',
        message: `The model \`${info.model}\` does not exist or you do not have access to it.`,
      };
    case 'context_length': {
      const { limit, count } = contextNumbers(info, 8192);
      return {
        type: 'invalid_request_error',
        code: 'context_length_exceeded',
        param: 'messages',
        message: `This model's maximum context length is ${limit} tokens. However, your messages resulted in ${count} tokens. Please reduce the length of the messages.`,
      };
    }
    case 'content_filter':
      return {
        type: 'invalid_request_error',
        code: 'content_policy_violation',
        message: 'Your request was rejected as a result of our safety system.',
      };
    case 'reject_prefill':
      return {
        type: 'invalid_request_error',
        code: null,
        param: 'messages',
        message: 'This model does not support assistant message prefill.',
      };
    case 'bad_request':
      return {
        type: 'invalid_request_error',
        code: 'invalid_value',
        param: 'temperature',
        message: "Invalid value for 'temperature': must be between 0 and 2.",
      };
    case 'missing_auth':
      return {
        type: 'invalid_request_error',
        code: null,
        message:
          "You didn't provide an API key. You need to provide your API key in an Authorization header.",
      };
    case 'invalid_request':
      return { type: 'invalid_request_error', code: null, message: info.message ?? 'Invalid request.' };
    case 'unsupported_parameter':
      return {
        type: 'invalid_request_error',
        code: 'unsupported_parameter',
        ...(info.param !== undefined && { param: info.param }),
        message: `Unsupported parameter: '${info.param}' is not supported with this model.`,
      };
  }
}

/** OpenAI's error envelope, used for HTTP errors and in-stream error events alike. */
function errorBody(e: OpenAIError): unknown {
  return { error: { message: e.message, type: e.type, param: e.param ?? null, code: e.code } };
}

function toMessage(raw: unknown, system: string[]): ChatMessage | undefined {
  if (!isRecord(raw) || typeof raw.role !== 'string') throw new RequestError('messages: each needs a role');
  const text = textOf(raw.content);
  if (raw.role === 'system' || raw.role === 'developer') {
    system.push(text);
    return undefined;
  }
  if (raw.role === 'user' || raw.role === 'assistant') return { role: raw.role, text };
  if (raw.role === 'tool' || raw.role === 'function') return { role: 'tool', text };
  throw new RequestError(`messages: unknown role '${raw.role}'`);
}

/** What OpenAI's reasoning models refuse, with the one value they take, if any. */
const REASONING_REFUSES: [string, unknown][] = [
  ['temperature', 1],
  ['top_p', undefined],
  ['stop', undefined],
  ['max_tokens', undefined],
  ['parallel_tool_calls', undefined],
];

function parse(body: unknown, ctx: RequestContext): ChatRequest {
  if (!isRecord(body)) throw new RequestError('The body must be a JSON object.');
  const model = ctx.pathModel ?? body.model;
  if (typeof model !== 'string' || model.length === 0) throw new RequestError('model: required');
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw new RequestError('messages: must be a non-empty array');
  }
  const system: string[] = [];
  const messages = body.messages.map((m: unknown) => toMessage(m, system)).filter((m) => m !== undefined);
  const tools = Array.isArray(body.tools)
    ? body.tools.flatMap((t: unknown) =>
        isRecord(t) && isRecord(t.function) && typeof t.function.name === 'string' ? [t.function.name] : [],
      )
    : [];
  const req: ChatRequest = {
    requestedModel: model,
    stream: body.stream === true,
    includeUsage: isRecord(body.stream_options) && body.stream_options.include_usage === true,
    system: system.join('\n'),
    messages,
    tools,
  };
  const notForReasoning = REASONING_REFUSES.filter(
    ([key, allowed]) => body[key] != null && body[key] !== allowed,
  );
  if (notForReasoning.length) req.notForReasoning = notForReasoning.map(([key]) => key);
  const maxTokens = optionalCount(body, 'max_completion_tokens') ?? optionalCount(body, 'max_tokens');
  if (maxTokens !== undefined) req.maxTokens = maxTokens;
  const format = body.response_format;
  if (isRecord(format) && format.type === 'json_object') req.json = { constrained: true };
  else if (isRecord(format) && format.type === 'json_schema')
    req.json = {
      schema: isRecord(format.json_schema) ? format.json_schema.schema : undefined,
      constrained: true,
    };
  return req;
}

// A refusal is an ordinary stop; the `refusal` field, not the finish reason, says so.
const FINISH = { stop: 'stop', length: 'length', tool: 'tool_calls', refusal: 'stop' } as const;

function usage(ctx: EncodeContext, outputTokens: number): unknown {
  const input = ctx.plan.inputTokens;
  return { prompt_tokens: input, completion_tokens: outputTokens, total_tokens: input + outputTokens };
}

function encoder(ctx: EncodeContext): StreamEncoder {
  let begun = false;
  // Structured outputs' refusal: the words come in `delta.refusal`, never in `content`.
  const refusal = ctx.plan.finish === 'refusal';
  const frame = (delta: unknown, finish: string | null = null): string =>
    sse({
      id: ctx.id,
      object: 'chat.completion.chunk',
      created: ctx.created,
      model: ctx.model,
      system_fingerprint: 'fp_simulator',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(ctx.includeUsage ? { usage: null } : {}),
    });
  const begin = (): string => {
    if (begun) return '';
    begun = true;
    const tool = ctx.plan.tool;
    if (refusal) return frame({ role: 'assistant', content: null, refusal: '' });
    if (tool === undefined) return frame({ role: 'assistant', content: '' });
    const call = {
      index: 0,
      id: ctx.toolCallId,
      type: 'function',
      function: { name: tool.name, arguments: '' },
    };
    return frame({ role: 'assistant', content: null, tool_calls: [call] });
  };
  return {
    head: () => '',
    keepAlive: () => ': keep-alive\n\n',
    chunk: (_i, text) =>
      begin() +
      (refusal
        ? frame({ refusal: text })
        : ctx.plan.tool === undefined
          ? frame({ content: text })
          : frame({ tool_calls: [{ index: 0, function: { arguments: text } }] })),
    finish: (outputTokens) => {
      const last = begin() + frame({}, FINISH[ctx.plan.finish]);
      if (!ctx.includeUsage) return last;
      const tail = { id: ctx.id, object: 'chat.completion.chunk', created: ctx.created, model: ctx.model };
      return (
        last +
        sse({ ...tail, system_fingerprint: 'fp_simulator', choices: [], usage: usage(ctx, outputTokens) })
      );
    },
    end: () => 'data: [DONE]\n\n',
    // OpenAI reports a failure after the 200 as its usual error object on a data line.
    error: (kind) => sse(errorBody(describe(kind, { model: ctx.model, inputTokens: 0 }))),
    malformed: () => 'data: {"choices":[{"delta":\n\n',
  };
}

function whole(ctx: EncodeContext, chunks: string[]): unknown {
  const tool = ctx.plan.tool;
  const message =
    ctx.plan.finish === 'refusal'
      ? { role: 'assistant', content: null, refusal: chunks.join('') }
      : tool === undefined
        ? { role: 'assistant', content: chunks.join(''), refusal: null }
        : {
            role: 'assistant',
            content: null,
            refusal: null,
            tool_calls: [
              {
                id: ctx.toolCallId,
                type: 'function',
                function: { name: tool.name, arguments: chunks.join('') },
              },
            ],
          };
  return {
    id: ctx.id,
    object: 'chat.completion',
    created: ctx.created,
    model: ctx.model,
    system_fingerprint: 'fp_simulator',
    choices: [{ index: 0, message, logprobs: null, finish_reason: FINISH[ctx.plan.finish] }],
    usage: usage(ctx, chunks.length),
  };
}

function error(kind: ErrorKind, info: ErrorInfo): ErrorSpec {
  return { status: STATUS[kind], body: errorBody(describe(kind, info)) };
}

function bearer(ctx: RequestContext): string {
  const auth = header(ctx.headers, 'authorization') ?? '';
  return auth.startsWith('Bearer ') ? auth.slice(7).trim() : '';
}

/** OpenAI Chat Completions (`POST /v1/chat/completions`, `Authorization: Bearer`). */
export const openai: ProtocolAdapter = {
  protocol: 'openai',
  check: (ctx) => (bearer(ctx) === '' ? error('missing_auth', { model: '', inputTokens: 0 }) : undefined),
  parse,
  error,
  encoder,
  whole,
};

/** Azure OpenAI (`POST /openai/deployments/<deployment>/chat/completions?api-version=`, `api-key`). */
export const azure: ProtocolAdapter = {
  ...openai,
  protocol: 'azure',
  check: (ctx) => {
    if (!ctx.query.get('api-version')) {
      return error('invalid_request', {
        model: '',
        inputTokens: 0,
        message: 'Missing required query parameter: api-version',
      });
    }
    const key = header(ctx.headers, 'api-key') ?? '';
    if (key === '' && bearer(ctx) === '') {
      const message =
        'Access denied due to missing subscription key. Provide a valid key in the api-key header.';
      return {
        status: 401,
        body: { error: { code: '401', message, type: 'invalid_request_error', param: null } },
      };
    }
    return undefined;
  },
};
