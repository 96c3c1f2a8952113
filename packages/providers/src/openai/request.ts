/** Canonical request → OpenAI Chat Completions (also Azure OpenAI and OpenAI-compatible servers). */
import type { ChatMessage, ChatRequest, ContentPart, ModelTarget, ProviderConfig } from '@understudy/engine';
import type { HttpCall } from '../http/index.js';
import type { JsonObject } from '../json.js';
import { trimBase, withHeaders } from '../protocol.js';

/** Azure's API version when the provider does not name one. */
export const DEFAULT_AZURE_API_VERSION = '2024-10-21';

/** The endpoint URL: `/chat/completions`, or Azure's per-deployment path with `api-version`. */
export function openaiUrl(
  provider: ProviderConfig,
  upstreamModel: string,
  path = 'chat/completions',
): string {
  const base = trimBase(provider.baseUrl);
  if (provider.type !== 'azure-openai') return `${base}/${path}`;
  const version = encodeURIComponent(provider.apiVersion ?? DEFAULT_AZURE_API_VERSION);
  return `${base}/openai/deployments/${encodeURIComponent(upstreamModel)}/${path}?api-version=${version}`;
}

/** Auth headers: Azure's `api-key`, else a Bearer token; none without a key (Ollama, LM Studio). */
export function openaiAuth(provider: ProviderConfig): Record<string, string> {
  if (!provider.apiKey) return {};
  return provider.type === 'azure-openai'
    ? { 'api-key': provider.apiKey }
    : { authorization: `Bearer ${provider.apiKey}` };
}

function part(p: ContentPart): JsonObject {
  if (p.type === 'text') return { type: 'text', text: p.text };
  const url = p.data !== undefined ? `data:${p.mediaType};base64,${p.data}` : (p.url ?? '');
  return { type: 'image_url', image_url: { url } };
}

function message(m: ChatMessage): JsonObject {
  switch (m.role) {
    case 'system':
      return { role: 'system', content: m.content };
    case 'user':
      return { role: 'user', content: typeof m.content === 'string' ? m.content : m.content.map(part) };
    case 'assistant': {
      const calls = m.toolCalls ?? [];
      if (calls.length === 0) return { role: 'assistant', content: m.content };
      return {
        role: 'assistant',
        // OpenAI wants null rather than "" beside tool calls.
        content: m.content === '' ? null : m.content,
        tool_calls: calls.map((c) => ({
          id: c.id,
          type: 'function',
          function: { name: c.name, arguments: c.arguments },
        })),
      };
    }
    case 'tool':
      return { role: 'tool', tool_call_id: m.toolCallId, content: m.content };
  }
}

/** Builds the streaming Chat Completions request. A final assistant message is sent as-is (prefill). */
export function buildOpenAIRequest(target: ModelTarget, request: ChatRequest): HttpCall {
  const { provider, model } = target;
  const body: JsonObject = {
    model: model.upstreamModel,
    messages: request.messages.map(message),
    stream: true,
    // Usage arrives in a last chunk only when asked; compatible servers that do not know the
    // option ignore it.
    stream_options: { include_usage: true },
  };
  const reasoning = model.capabilities.includes('reasoning');
  // OpenAI's own reasoning models (o3, o4-mini …, on OpenAI or Azure) refuse sampling parameters,
  // stop sequences and parallel_tool_calls with a 400: asked as a backup, they would fail an
  // answer they can give (the engine keeps the stop sequences itself).
  const openaiReasoning = reasoning && provider.type !== 'openai-compatible';
  if (request.maxTokens !== undefined) {
    // OpenAI itself deprecated max_tokens (reasoning models reject it); others only know max_tokens.
    const key = provider.type === 'openai' || openaiReasoning ? 'max_completion_tokens' : 'max_tokens';
    body[key] = request.maxTokens;
  }
  if (!openaiReasoning) {
    if (request.temperature !== undefined) body.temperature = request.temperature;
    if (request.topP !== undefined) body.top_p = request.topP;
    if (request.stop?.length) body.stop = request.stop;
  }
  // Models that do not reason refuse it (OpenAI: 400 unrecognized argument).
  if (reasoning && request.reasoningEffort !== undefined) body.reasoning_effort = request.reasoningEffort;
  if (request.seed !== undefined) body.seed = request.seed;
  const format = request.jsonSchema;
  if (format)
    body.response_format = {
      type: 'json_schema',
      json_schema: {
        name: format.name,
        ...(format.description !== undefined && { description: format.description }),
        ...(format.schema !== undefined && { schema: format.schema }),
        ...(format.strict !== undefined && { strict: format.strict }),
      },
    };
  else if (request.json) body.response_format = { type: 'json_object' };
  if (request.tools && request.tools.length > 0) {
    body.tools = request.tools.map((t) => ({
      type: 'function',
      function: {
        name: t.name,
        ...(t.description !== undefined && { description: t.description }),
        parameters: t.parameters,
        ...(t.strict !== undefined && { strict: t.strict }),
      },
    }));
    const choice = request.toolChoice;
    if (choice !== undefined && choice !== 'auto')
      body.tool_choice =
        typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } };
    // Only the non-default is sent: servers that do not know the option then never see it. OpenAI's
    // reasoning models refuse it (400) and make one call at a time anyway.
    if (request.parallelToolCalls === false && !openaiReasoning) body.parallel_tool_calls = false;
  }
  return {
    url: openaiUrl(provider, model.upstreamModel),
    headers: withHeaders(provider, {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...openaiAuth(provider),
    }),
    body,
  };
}

/** The model list request used to test a provider without naming a model. */
export function openaiProbe(provider: ProviderConfig): HttpCall {
  const base = trimBase(provider.baseUrl);
  const url =
    provider.type === 'azure-openai'
      ? `${base}/openai/models?api-version=${encodeURIComponent(provider.apiVersion ?? DEFAULT_AZURE_API_VERSION)}`
      : `${base}/models`;
  return {
    method: 'GET',
    url,
    headers: withHeaders(provider, { accept: 'application/json', ...openaiAuth(provider) }),
  };
}
