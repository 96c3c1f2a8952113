/** Canonical request → Anthropic Messages. */
import {
  jsonInstruction,
  type ChatRequest,
  type ContentPart,
  type ModelTarget,
  type ProviderConfig,
} from '@understudy/engine';
import type { HttpCall } from '../http/index.js';
import { argsObject, parseDataUrl, type JsonObject } from '../json.js';
import { trimBase, withHeaders } from '../protocol.js';

/** The API version header value this adapter speaks. */
export const ANTHROPIC_VERSION = '2023-06-01';
/** `max_tokens` is mandatory at Anthropic; used when neither request nor model says. */
export const DEFAULT_MAX_TOKENS = 4096;
/** Anthropic wants the first turn from the user; stands in when a conversation starts otherwise. */
export const LEADING_USER_TEXT = '…';

type Role = 'user' | 'assistant';
interface Turn {
  role: Role;
  content: JsonObject[];
}

/** The request plus the prefill whitespace that was trimmed (owed back to the output). */
export interface AnthropicCall {
  http: HttpCall;
  trimmedPrefill: string;
}

function headers(provider: ProviderConfig): Record<string, string> {
  return withHeaders(provider, {
    'anthropic-version': ANTHROPIC_VERSION,
    ...(provider.apiKey ? { 'x-api-key': provider.apiKey } : {}),
  });
}

function image(p: Extract<ContentPart, { type: 'image' }>): JsonObject {
  const inline = p.data !== undefined ? { mediaType: p.mediaType, data: p.data } : parseDataUrl(p.url ?? '');
  const source = inline
    ? { type: 'base64', media_type: inline.mediaType, data: inline.data }
    : { type: 'url', url: p.url ?? '' };
  return { type: 'image', source };
}

function text(t: string): JsonObject[] {
  // Anthropic rejects empty text blocks.
  return t === '' ? [] : [{ type: 'text', text: t }];
}

/**
 * Appends a turn, merging it into the previous one when the role repeats (Anthropic requires
 * strict user/assistant alternation). Within a user turn, tool results go first, as required.
 */
function push(turns: Turn[], role: Role, content: JsonObject[]): void {
  if (content.length === 0) return;
  const last = turns[turns.length - 1];
  if (last && last.role === role) last.content.push(...content);
  else turns.push({ role, content: [...content] });
}

function orderToolResultsFirst(turn: Turn): Turn {
  if (turn.role !== 'user') return turn;
  const results = turn.content.filter((b) => b.type === 'tool_result');
  return { role: turn.role, content: [...results, ...turn.content.filter((b) => b.type !== 'tool_result')] };
}

/**
 * Builds the streaming Messages request. System messages join into `system`; a final assistant
 * message is a prefill, and Anthropic rejects a prefill ending in whitespace, so its trailing
 * whitespace is trimmed and returned as `trimmedPrefill` for the parser to account for.
 */
export function buildAnthropicRequest(target: ModelTarget, request: ChatRequest): AnthropicCall {
  const { provider, model } = target;
  const system: string[] = [];
  const turns: Turn[] = [];
  const messages = request.messages;
  const lastIndex = messages.length - 1;
  let trimmedPrefill = '';
  messages.forEach((m, i) => {
    switch (m.role) {
      case 'system':
        if (m.content !== '') system.push(m.content);
        return;
      case 'user':
        push(
          turns,
          'user',
          typeof m.content === 'string'
            ? text(m.content)
            : m.content.flatMap((p) => (p.type === 'text' ? text(p.text) : [image(p)])),
        );
        return;
      case 'tool':
        push(turns, 'user', [{ type: 'tool_result', tool_use_id: m.toolCallId, content: m.content }]);
        return;
      case 'assistant': {
        let content = m.content;
        if (i === lastIndex && !m.toolCalls?.length) {
          const kept = content.trimEnd();
          trimmedPrefill = content.slice(kept.length);
          content = kept;
        }
        const uses = (m.toolCalls ?? []).map((c) => ({
          type: 'tool_use',
          id: c.id,
          name: c.name,
          input: argsObject(c.arguments),
        }));
        push(turns, 'assistant', [...text(content), ...uses]);
      }
    }
  });
  if (turns[0]?.role === 'assistant') turns.unshift({ role: 'user', content: text(LEADING_USER_TEXT) });
  const body: JsonObject = {
    model: model.upstreamModel,
    max_tokens: request.maxTokens ?? model.maxOutputTokens ?? DEFAULT_MAX_TOKENS,
    messages: turns.map(orderToolResultsFirst),
    stream: true,
  };
  // Messages has no JSON mode that every model takes: the instruction is the documented way to
  // ask for one, the schema given in the same words.
  if (request.json || request.jsonSchema) system.push(jsonInstruction(request.jsonSchema));
  if (system.length > 0) body.system = system.join('\n\n');
  // Messages takes a temperature up to 1 (OpenAI's runs to 2): the most varied it allows. Its
  // newer models refuse temperature and top_p together ("use only one"): temperature is kept.
  // Either refusal would fail an answer this model could give as a backup.
  if (request.temperature !== undefined) body.temperature = Math.min(request.temperature, 1);
  else if (request.topP !== undefined) body.top_p = request.topP;
  // Messages refuses a stop sequence of whitespace alone (a newline is a common one): left out
  // here, it is kept all the same by the engine, which ends every answer at the caller's stops.
  const stops = request.stop?.filter((s) => s.trim() !== '');
  if (stops?.length) body.stop_sequences = stops;
  // No seed in this protocol: a sampling hint, left out.
  if (request.tools && request.tools.length > 0 && request.toolChoice !== 'none') {
    body.tools = request.tools.map((t) => ({
      name: t.name,
      ...(t.description !== undefined && { description: t.description }),
      input_schema: t.parameters,
    }));
    const choice = request.toolChoice;
    const one = request.parallelToolCalls === false ? { disable_parallel_tool_use: true } : {};
    if (choice === 'required') body.tool_choice = { type: 'any', ...one };
    else if (typeof choice === 'object') body.tool_choice = { type: 'tool', name: choice.name, ...one };
    else if (request.parallelToolCalls === false) body.tool_choice = { type: 'auto', ...one };
  }
  return {
    http: {
      url: `${trimBase(provider.baseUrl)}/v1/messages`,
      headers: { ...headers(provider), 'content-type': 'application/json', accept: 'text/event-stream' },
      body,
    },
    trimmedPrefill,
  };
}

/** The model list request used to test a provider without naming a model. */
export function anthropicProbe(provider: ProviderConfig): HttpCall {
  return { method: 'GET', url: `${trimBase(provider.baseUrl)}/v1/models`, headers: headers(provider) };
}
