/** Google Gemini (`POST /v1beta/models/<model>:generateContent` and `:streamGenerateContent?alt=sse`). */
import type { ChatMessage, ChatRequest } from '../plan.js';
import {
  STATUS,
  RequestError,
  contextNumbers,
  header,
  isRecord,
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

function describe(kind: ErrorKind, info: ErrorInfo): { code: number; status: string; message: string } {
  const at = (status: string, message: string, code = STATUS[kind]) => ({ code, message, status });
  switch (kind) {
    case 'rate_limit':
      return at('RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).');
    case 'server_error':
      return at('INTERNAL', 'An internal error has occurred. Please retry or report the problem.');
    case 'bad_gateway':
      return at('UNAVAILABLE', 'Bad gateway.');
    case 'unavailable':
      return at('UNAVAILABLE', 'The service is currently unavailable.');
    case 'gateway_timeout':
      return at('DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.');
    case 'overloaded':
      return at('UNAVAILABLE', 'The model is overloaded. Please try again later.', 503);
    case 'unauthorized':
      return at('UNAUTHENTICATED', 'API key not valid. Please pass a valid API key.');
    case 'payment_required':
      return at('FAILED_PRECONDITION', 'Billing is not enabled for this project.');
    case 'forbidden':
      return at('PERMISSION_DENIED', 'The caller does not have permission.');
    case 'not_found':
      return at(
        'NOT_FOUND',
        `models/${info.model} is not found for API version v1beta, or is not supported for generateContent.`,
      );
    case 'context_length': {
      const { limit, count } = contextNumbers(info, 1_048_576);
      return at(
        'INVALID_ARGUMENT',
        `The input token count (${count}) exceeds the maximum number of tokens allowed (${limit}).`,
      );
    }
    case 'content_filter':
      return at('INVALID_ARGUMENT', 'The request was blocked for safety reasons.');
    case 'reject_prefill':
      return at('INVALID_ARGUMENT', 'This model does not support assistant message prefill.');
    case 'bad_request':
      return at('INVALID_ARGUMENT', "Invalid value at 'generation_config.temperature' (TYPE_FLOAT), 5");
    case 'missing_auth':
      return at(
        'PERMISSION_DENIED',
        "Method doesn't allow unregistered callers. Please use API Key or other form of API consumer identity to call this API.",
        403,
      );
    case 'invalid_request':
      return at('INVALID_ARGUMENT', info.message ?? 'Invalid request.');
    case 'unsupported_parameter':
      return at('INVALID_ARGUMENT', `Invalid JSON payload received. Unknown name "${info.param}"`);
  }
}

function usage(ctx: EncodeContext, outputTokens: number): unknown {
  const input = ctx.plan.inputTokens;
  return {
    promptTokenCount: input,
    candidatesTokenCount: outputTokens,
    totalTokenCount: input + outputTokens,
  };
}

function error(kind: ErrorKind, info: ErrorInfo): ErrorSpec {
  if (kind === 'content_filter') {
    // Gemini reports a blocked prompt as a successful response without candidates.
    const promptFeedback = {
      blockReason: 'SAFETY',
      safetyRatings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH' }],
    };
    const usageMetadata = { promptTokenCount: info.inputTokens, totalTokenCount: info.inputTokens };
    return { status: 200, body: { promptFeedback, usageMetadata, modelVersion: info.model } };
  }
  const e = describe(kind, info);
  return { status: e.code, body: { error: e } };
}

function toMessage(raw: unknown): ChatMessage {
  if (!isRecord(raw) || !Array.isArray(raw.parts)) throw new RequestError('contents: each needs parts');
  const parts: unknown[] = raw.parts;
  if (parts.some((p) => isRecord(p) && p.functionResponse !== undefined)) {
    return {
      role: 'tool',
      text: parts.map((p) => (isRecord(p) ? JSON.stringify(p.functionResponse ?? '') : '')).join('\n'),
    };
  }
  const role = raw.role ?? 'user';
  if (role !== 'user' && role !== 'model') throw new RequestError(`contents: unknown role '${String(role)}'`);
  return { role: role === 'model' ? 'assistant' : 'user', text: textOf(parts) };
}

/** As Gemini does: a declaration's object parameters must have properties. */
function refuseEmptyObjects(decls: unknown[], tool: number): void {
  decls.forEach((d, i) => {
    const p = isRecord(d) ? d.parameters : undefined;
    if (!isRecord(p) || String(p.type).toLowerCase() !== 'object') return;
    if (isRecord(p.properties) && Object.keys(p.properties).length > 0) return;
    throw new RequestError(
      `* GenerateContentRequest.tools[${tool}].function_declarations[${i}].parameters.properties: should be non-empty for OBJECT type\n`,
    );
  });
}

function parse(body: unknown, ctx: RequestContext): ChatRequest {
  if (!isRecord(body)) throw new RequestError('The body must be a JSON object.');
  if (!Array.isArray(body.contents) || body.contents.length === 0)
    throw new RequestError('contents is not specified');
  const instruction = body.systemInstruction ?? body.system_instruction;
  const system = isRecord(instruction) ? textOf(instruction.parts) : textOf(instruction);
  const tools = Array.isArray(body.tools)
    ? body.tools.flatMap((t: unknown, i) => {
        const decls = isRecord(t) ? (t.functionDeclarations ?? t.function_declarations) : undefined;
        if (Array.isArray(decls)) refuseEmptyObjects(decls, i);
        return Array.isArray(decls)
          ? decls.flatMap((d: unknown) => (isRecord(d) && typeof d.name === 'string' ? [d.name] : []))
          : [];
      })
    : [];
  const req: ChatRequest = {
    requestedModel: ctx.pathModel ?? '',
    stream: ctx.pathStream === true,
    includeUsage: true,
    system,
    messages: body.contents.map(toMessage),
    tools,
  };
  const config = body.generationConfig ?? body.generation_config;
  if (isRecord(config) && (config.responseMimeType ?? config.response_mime_type) === 'application/json')
    req.json = {
      schema:
        config.responseJsonSchema ??
        config.response_json_schema ??
        config.responseSchema ??
        config.response_schema,
      constrained: true,
    };
  const max = isRecord(config) ? config.maxOutputTokens : undefined;
  if (max !== undefined) {
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1)
      throw new RequestError('maxOutputTokens: must be a positive integer');
    req.maxTokens = max;
  }
  return req;
}

// Gemini says it declined by the finish reason alone.
const FINISH = { stop: 'STOP', length: 'MAX_TOKENS', tool: 'STOP', refusal: 'SAFETY' } as const;

function candidate(parts: unknown[], finish?: string): unknown {
  return {
    content: { parts, role: 'model' },
    ...(finish === undefined ? {} : { finishReason: finish }),
    index: 0,
  };
}

function encoder(ctx: EncodeContext): StreamEncoder {
  const frame = (parts: unknown[], outputTokens: number, finish?: string): string =>
    sse({
      candidates: [candidate(parts, finish)],
      usageMetadata: usage(ctx, outputTokens),
      modelVersion: ctx.model,
      responseId: ctx.id,
    });
  const tool = ctx.plan.tool;
  return {
    head: () => '',
    keepAlive: () => '',
    chunk: (i, text) => {
      // Gemini sends a function call whole, in one chunk; later argument pieces add nothing.
      if (tool === undefined) return frame([{ text }], i + 1);
      return i === 0
        ? frame([{ functionCall: { name: tool.name, args: JSON.parse(tool.args) as unknown } }], 1)
        : '';
    },
    finish: (outputTokens) => frame([{ text: '' }], outputTokens, FINISH[ctx.plan.finish]),
    end: () => '',
    // Gemini has no error event type: a data line holding the same `{error:{code,status}}` as its HTTP errors.
    error: (kind) => sse({ error: describe(kind, { model: ctx.model, inputTokens: 0 }) }),
    malformed: () => 'data: {"candidates":[{"content":\n\n',
  };
}

function whole(ctx: EncodeContext, chunks: string[]): unknown {
  const tool = ctx.plan.tool;
  const parts =
    tool === undefined
      ? [{ text: chunks.join('') }]
      : [{ functionCall: { name: tool.name, args: JSON.parse(tool.args) as unknown } }];
  return {
    candidates: [candidate(parts, FINISH[ctx.plan.finish])],
    usageMetadata: usage(ctx, chunks.length),
    modelVersion: ctx.model,
    responseId: ctx.id,
  };
}

function check(ctx: RequestContext): ErrorSpec | undefined {
  const key = header(ctx.headers, 'x-goog-api-key') ?? ctx.query.get('key') ?? '';
  if (key === '') return error('missing_auth', { model: '', inputTokens: 0 });
  if (ctx.pathStream === true && ctx.query.get('alt') !== 'sse') {
    return error('invalid_request', {
      model: '',
      inputTokens: 0,
      message: 'The simulator streams only with alt=sse.',
    });
  }
  return undefined;
}

/** The Gemini generateContent protocol. */
export const gemini: ProtocolAdapter = { protocol: 'gemini', check, parse, error, encoder, whole };
