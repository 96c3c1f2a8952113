/** The OpenAI chat completions request: validated at the edge and translated to the engine's request. */
import type { ChatMessage, ChatRequest, ContentPart, ToolDefinition } from '@understudy/engine';
import { z } from 'zod';
import { jsonTextNestsDeeperThan, nestsDeeperThan, TOO_DEEP } from '../http/index.js';

const TextPart = z.object({ type: z.literal('text'), text: z.string() });
const ImagePart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({ url: z.string().min(1), detail: z.string().optional() }),
});
const Part = z.discriminatedUnion('type', [TextPart, ImagePart]);
// Free-form JSON, held to a sane depth: past it, measuring or sending the request on overflows the
// stack (a 500, or, in an adapter that parses arguments, a provider failure that triggers fallback).
const Arguments = z.string().refine((s) => !jsonTextNestsDeeperThan(s), { message: TOO_DEEP });
const ToolCallSchema = z.object({
  id: z.string(),
  type: z.literal('function'),
  function: z.object({ name: z.string(), arguments: Arguments }),
});

const text = (c: string | { text: string }[] | null | undefined) =>
  typeof c === 'string' ? c : (c ?? []).map((p) => p.text).join('');

const Message = z.discriminatedUnion('role', [
  z.object({
    role: z.literal('system'),
    content: z.union([z.string(), z.array(TextPart)]),
    name: z.string().optional(),
  }),
  z.object({
    role: z.literal('developer'),
    content: z.union([z.string(), z.array(TextPart)]),
    name: z.string().optional(),
  }),
  z.object({
    role: z.literal('user'),
    content: z.union([z.string(), z.array(Part)]),
    name: z.string().optional(),
  }),
  z.object({
    role: z.literal('assistant'),
    content: z
      .union([z.string(), z.array(TextPart)])
      .nullable()
      .optional(),
    tool_calls: z.array(ToolCallSchema).optional(),
    name: z.string().optional(),
    refusal: z.string().nullable().optional(),
  }),
  z.object({
    role: z.literal('tool'),
    // A result that is JSON goes to Gemini as an object.
    content: z
      .union([z.string(), z.array(TextPart)])
      .refine((c) => !jsonTextNestsDeeperThan(text(c)), { message: TOO_DEEP }),
    tool_call_id: z.string(),
  }),
]);

/**
 * The body of `POST /v1/chat/completions`. Every standard OpenAI parameter is accepted. Those that
 * change the answer go to the provider in its protocol (`stop`, `top_p`, `seed`, `tool_choice`,
 * `parallel_tool_calls`, `response_format` json_object and json_schema, `reasoning_effort` to
 * reasoning models); a form we cannot honour (audio output, web search, the deprecated
 * `functions`) is refused with a 400 that says so rather than dropped. Penalties, logit_bias,
 * logprobs, user and its successors (safety_identifier, prompt_cache_key), metadata, verbosity, a
 * predicted output and the like are accepted and ignored so unmodified clients work. Anything else
 * is an unknown field and refused.
 */
export const CompletionBody = z.strictObject({
  model: z.string().min(1).max(200),
  messages: z.array(Message).min(1, 'at least one message is required').max(10_000),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
  max_tokens: z.number().int().min(1).nullable().optional(),
  max_completion_tokens: z.number().int().min(1).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  n: z.literal(1, 'only n=1 is supported').nullable().optional(),
  tools: z
    .array(
      z.object({
        type: z.literal('function'),
        function: z.object({
          name: z.string().min(1),
          description: z.string().optional(),
          parameters: z
            .record(z.string(), z.unknown())
            .refine((p) => !nestsDeeperThan(p), { message: TOO_DEEP })
            .optional(),
          strict: z.boolean().nullable().optional(),
        }),
      }),
    )
    .optional(),
  tool_choice: z
    .union([
      z.enum(['auto', 'none', 'required']),
      z.object({ type: z.literal('function'), function: z.object({ name: z.string().min(1) }) }),
    ])
    .nullable()
    .optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
  response_format: z
    .discriminatedUnion(
      'type',
      [
        z.object({ type: z.literal('text') }),
        z.object({ type: z.literal('json_object') }),
        z.object({
          type: z.literal('json_schema'),
          json_schema: z.object({
            // OpenAI's own rule for the name, so a client learns it here rather than from a provider.
            name: z
              .string()
              .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "_" and "-", at most 64 characters'),
            description: z.string().optional(),
            schema: z
              .record(z.string(), z.unknown())
              .refine((s) => !nestsDeeperThan(s), { message: TOO_DEEP })
              .optional(),
            strict: z.boolean().nullable().optional(),
          }),
        }),
      ],
      { message: 'type: "text", "json_object" or "json_schema"' },
    )
    .nullable()
    .optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  presence_penalty: z.number().nullable().optional(),
  frequency_penalty: z.number().nullable().optional(),
  logit_bias: z.record(z.string(), z.number()).nullable().optional(),
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: z.number().nullable().optional(),
  stop: z
    .union([z.string(), z.array(z.string()).max(4, 'at most 4 stop sequences')])
    .nullable()
    .optional(),
  seed: z.number().int().nullable().optional(),
  user: z.string().optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  store: z.boolean().nullable().optional(),
  service_tier: z.string().nullable().optional(),
  reasoning_effort: z.string().min(1).max(40).nullable().optional(),
  // OpenAI's successors of `user` and its caching and output hints: none changes what is answered.
  safety_identifier: z.string().nullable().optional(),
  prompt_cache_key: z.string().nullable().optional(),
  prompt_cache_retention: z.string().nullable().optional(),
  verbosity: z.enum(['low', 'medium', 'high']).nullable().optional(),
  prediction: z
    .object({ type: z.literal('content'), content: z.union([z.string(), z.array(TextPart)]) })
    .nullable()
    .optional(),
  modalities: z
    .array(z.literal('text', 'only text output is supported (audio is not)'))
    .nullable()
    .optional(),
  audio: z.null('audio output is not supported').optional(),
  web_search_options: z.null('web search is not supported').optional(),
  functions: z.null('deprecated: use tools (functions is not supported)').optional(),
  function_call: z.null('deprecated: use tool_choice (function_call is not supported)').optional(),
});

/** A validated request body. */
export type CompletionBody = z.infer<typeof CompletionBody>;

/** Translates an image URL part: data URLs become inline base64, others stay URLs. */
function imagePart(url: string): ContentPart {
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  if (m?.[1] && m[2] !== undefined) return { type: 'image', mediaType: m[1], data: m[2] };
  return { type: 'image', mediaType: 'image/*', url };
}

/** The engine's request for an OpenAI body. */
export function toChatRequest(body: CompletionBody): ChatRequest {
  const messages: ChatMessage[] = body.messages.map((m): ChatMessage => {
    switch (m.role) {
      case 'system':
      case 'developer':
        return { role: 'system', content: text(m.content) };
      case 'user':
        return {
          role: 'user',
          content:
            typeof m.content === 'string'
              ? m.content
              : m.content.map((p): ContentPart =>
                  p.type === 'text' ? { type: 'text', text: p.text } : imagePart(p.image_url.url),
                ),
        };
      case 'assistant': {
        // A refusal the client was given comes back in its own field: it is what the model said.
        const out: ChatMessage = { role: 'assistant', content: text(m.content) || (m.refusal ?? '') };
        if (m.tool_calls?.length)
          out.toolCalls = m.tool_calls.map((t) => ({
            id: t.id,
            name: t.function.name,
            arguments: t.function.arguments,
          }));
        return out;
      }
      case 'tool':
        return { role: 'tool', toolCallId: m.tool_call_id, content: text(m.content) };
    }
  });
  const req: ChatRequest = { messages };
  const max = body.max_completion_tokens ?? body.max_tokens;
  if (max != null) req.maxTokens = max;
  if (body.temperature != null) req.temperature = body.temperature;
  if (body.top_p != null) req.topP = body.top_p;
  if (body.seed != null) req.seed = body.seed;
  if (body.reasoning_effort != null) req.reasoningEffort = body.reasoning_effort;
  if (body.stop != null) {
    const stop = (typeof body.stop === 'string' ? [body.stop] : body.stop).filter((x) => x !== '');
    if (stop.length) req.stop = stop;
  }
  const format = body.response_format;
  if (format?.type === 'json_object') req.json = true;
  if (format?.type === 'json_schema') {
    const s = format.json_schema;
    req.jsonSchema = { name: s.name };
    if (s.description !== undefined) req.jsonSchema.description = s.description;
    if (s.schema !== undefined) req.jsonSchema.schema = s.schema;
    if (s.strict != null) req.jsonSchema.strict = s.strict;
  }
  const choice = body.tool_choice;
  if (choice != null) req.toolChoice = typeof choice === 'string' ? choice : { name: choice.function.name };
  if (body.parallel_tool_calls != null) req.parallelToolCalls = body.parallel_tool_calls;
  if (body.tools?.length) {
    req.tools = body.tools.map((t): ToolDefinition => {
      const d: ToolDefinition = {
        name: t.function.name,
        parameters: t.function.parameters ?? { type: 'object', properties: {} },
      };
      if (t.function.description) d.description = t.function.description;
      if (t.function.strict != null) d.strict = t.function.strict;
      return d;
    });
  }
  return req;
}
