/** Anthropic Messages (`POST /v1/messages`, `x-api-key`, `anthropic-version`). */
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

function describe(kind: ErrorKind, info: ErrorInfo): { type: string; message: string } {
  switch (kind) {
    case 'rate_limit':
      return { type: 'rate_limit_error', message: 'Number of requests has exceeded your rate limit.' };
    case 'server_error':
      return { type: 'api_error', message: 'Internal server error' };
    case 'bad_gateway':
      return { type: 'api_error', message: 'Bad gateway' };
    case 'unavailable':
      return { type: 'api_error', message: 'Service unavailable' };
    case 'gateway_timeout':
      return { type: 'api_error', message: 'Gateway timeout' };
    case 'overloaded':
      return { type: 'overloaded_error', message: 'Overloaded' };
    case 'unauthorized':
      return { type: 'authentication_error', message: 'invalid x-api-key' };
    case 'payment_required':
      // Anthropic's own type for 402; not in the common list, but what the real API sends.
      return {
        type: 'billing_error',
        message: 'Your credit balance is too low to access the Anthropic API.',
      };
    case 'forbidden':
      return {
        type: 'permission_error',
        message: 'Your API key does not have permission to use the specified resource.',
      };
    case 'not_found':
      return { type: 'not_found_error', message: `model: ${info.model}` };
    case 'context_length': {
      const { limit, count } = contextNumbers(info, 200_000);
      return {
        type: 'invalid_request_error',
        message: `prompt is too long: ${count} tokens > ${limit} maximum`,
      };
    }
    case 'content_filter':
      return { type: 'invalid_request_error', message: 'Output blocked by content filtering policy' };
    case 'reject_prefill':
      return {
        type: 'invalid_request_error',
        message: 'This model does not support assistant message prefill.',
      };
    case 'bad_request':
      return { type: 'invalid_request_error', message: 'temperature: range: 0..1' };
    case 'missing_auth':
      return { type: 'authentication_error', message: 'x-api-key header is required' };
    case 'invalid_request':
      return { type: 'invalid_request_error', message: info.message ?? 'Invalid request.' };
    case 'unsupported_parameter':
      return { type: 'invalid_request_error', message: `${info.param}: Extra inputs are not permitted` };
  }
}

function errorBody(e: { type: string; message: string }): unknown {
  return { type: 'error', error: e };
}

function toMessage(raw: unknown): ChatMessage {
  if (!isRecord(raw) || (raw.role !== 'user' && raw.role !== 'assistant')) {
    throw new RequestError('messages: each role must be "user" or "assistant"');
  }
  const blocks = Array.isArray(raw.content) ? raw.content : [];
  const results = blocks.filter((b: unknown) => isRecord(b) && b.type === 'tool_result');
  if (raw.role === 'user' && results.length > 0) {
    return {
      role: 'tool',
      text: results.map((b: unknown) => (isRecord(b) ? textOf(b.content) : '')).join('\n'),
    };
  }
  return { role: raw.role, text: textOf(raw.content) };
}

function parse(body: unknown): ChatRequest {
  if (!isRecord(body)) throw new RequestError('The body must be a JSON object.');
  if (typeof body.model !== 'string' || body.model.length === 0)
    throw new RequestError('model: Field required');
  const maxTokens = optionalCount(body, 'max_tokens');
  if (maxTokens === undefined) throw new RequestError('max_tokens: Field required');
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw new RequestError('messages: at least one message is required');
  }
  // As Anthropic's current models refuse them.
  if (typeof body.temperature === 'number' && (body.temperature < 0 || body.temperature > 1))
    throw new RequestError('temperature: range: 0..1');
  if (
    Array.isArray(body.stop_sequences) &&
    body.stop_sequences.some((s) => typeof s !== 'string' || s.trim() === '')
  )
    throw new RequestError('stop_sequences: each stop sequence must contain non-whitespace');
  if (body.temperature != null && body.top_p != null)
    throw new RequestError(
      '`temperature` and `top_p` cannot both be specified for this model. Please use only one.',
    );
  const tools = Array.isArray(body.tools)
    ? body.tools.flatMap((t: unknown) => (isRecord(t) && typeof t.name === 'string' ? [t.name] : []))
    : [];
  // Messages has no JSON mode: a model follows the system prompt's words (planAnswer reads them).
  return {
    requestedModel: body.model,
    stream: body.stream === true,
    includeUsage: true,
    maxTokens,
    system: textOf(body.system),
    messages: body.messages.map(toMessage),
    tools,
  };
}

// A refusal is text whose stop reason says the model declined (Claude 4's `refusal`).
const STOP = { stop: 'end_turn', length: 'max_tokens', tool: 'tool_use', refusal: 'refusal' } as const;

function encoder(ctx: EncodeContext): StreamEncoder {
  let begun = false;
  const tool = ctx.plan.tool;
  const begin = (): string => {
    if (begun) return '';
    begun = true;
    const block =
      tool === undefined
        ? { type: 'text', text: '' }
        : { type: 'tool_use', id: ctx.toolCallId, name: tool.name, input: {} };
    return sse({ type: 'content_block_start', index: 0, content_block: block }, 'content_block_start');
  };
  return {
    head: () => {
      const message = {
        id: ctx.id,
        type: 'message',
        role: 'assistant',
        model: ctx.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: ctx.plan.inputTokens, output_tokens: Math.min(1, ctx.plan.chunks.length) },
      };
      return sse({ type: 'message_start', message }, 'message_start') + sse({ type: 'ping' }, 'ping');
    },
    keepAlive: () => sse({ type: 'ping' }, 'ping'),
    chunk: (_i, text) => {
      const delta =
        tool === undefined ? { type: 'text_delta', text } : { type: 'input_json_delta', partial_json: text };
      return begin() + sse({ type: 'content_block_delta', index: 0, delta }, 'content_block_delta');
    },
    finish: (outputTokens) =>
      begin() +
      sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop') +
      sse(
        {
          type: 'message_delta',
          delta: { stop_reason: STOP[ctx.plan.finish], stop_sequence: null },
          usage: { output_tokens: outputTokens },
        },
        'message_delta',
      ),
    end: () => sse({ type: 'message_stop' }, 'message_stop'),
    // `event: error` with the same `{"type":"error","error":{...}}` body as an HTTP error.
    error: (kind) => sse(errorBody(describe(kind, { model: ctx.model, inputTokens: 0 })), 'error'),
    malformed: () => 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":\n\n',
  };
}

function whole(ctx: EncodeContext, chunks: string[]): unknown {
  const tool = ctx.plan.tool;
  const content =
    tool === undefined
      ? [{ type: 'text', text: chunks.join('') }]
      : [{ type: 'tool_use', id: ctx.toolCallId, name: tool.name, input: JSON.parse(tool.args) as unknown }];
  return {
    id: ctx.id,
    type: 'message',
    role: 'assistant',
    model: ctx.model,
    content,
    stop_reason: STOP[ctx.plan.finish],
    stop_sequence: null,
    usage: { input_tokens: ctx.plan.inputTokens, output_tokens: chunks.length },
  };
}

function error(kind: ErrorKind, info: ErrorInfo): ErrorSpec {
  return { status: STATUS[kind], body: errorBody(describe(kind, info)) };
}

function check(ctx: RequestContext): ErrorSpec | undefined {
  const key = header(ctx.headers, 'x-api-key') ?? '';
  const bearer = (header(ctx.headers, 'authorization') ?? '').replace(/^Bearer\s*/, '');
  if (key === '' && bearer === '') return error('missing_auth', { model: '', inputTokens: 0 });
  if (!header(ctx.headers, 'anthropic-version')) {
    return error('invalid_request', {
      model: '',
      inputTokens: 0,
      message: 'anthropic-version: header is required',
    });
  }
  return undefined;
}

/** The Anthropic Messages protocol. */
export const anthropic: ProtocolAdapter = { protocol: 'anthropic', check, parse, error, encoder, whole };
