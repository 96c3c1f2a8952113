/** Canonical request → Google Gemini `streamGenerateContent`. */
import type { ChatRequest, ContentPart, ModelTarget, ProviderConfig } from '@understudy/engine';
import type { HttpCall } from '../http/index.js';
import { argsObject, isObject, parseDataUrl, parseJson, type JsonObject } from '../json.js';
import { trimBase, withHeaders } from '../protocol.js';

type Role = 'user' | 'model';
interface Content {
  role: Role;
  parts: JsonObject[];
}

/** JSON-Schema keywords Gemini's OpenAPI-subset `parameters` rejects; dropped at every level. */
const UNSUPPORTED_SCHEMA_KEYS = new Set(['$schema', '$id', '$comment', 'additionalProperties']);

/** A tool's JSON Schema, minus the keywords Gemini refuses. */
export function geminiSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(geminiSchema);
  if (!isObject(schema)) return schema;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(schema)) {
    if (!UNSUPPORTED_SCHEMA_KEYS.has(k)) out[k] = geminiSchema(v);
  }
  return out;
}

/** False for a tool's parameters that are an object schema with no properties (an empty one too). */
function takesSomething(parameters: Record<string, unknown>): boolean {
  const props = parameters.properties;
  const isObjectType = parameters.type === undefined || String(parameters.type).toLowerCase() === 'object';
  return !isObjectType || (isObject(props) && Object.keys(props).length > 0);
}

/** A schema without its top-level `$schema` (the dialect's URL), a keyword Gemini does not list. */
function withoutDialect(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}

/** The model name without a leading `models/`, which users paste from Google's listings. */
function modelPath(upstreamModel: string): string {
  return encodeURIComponent(upstreamModel.replace(/^models\//, ''));
}

function headers(provider: ProviderConfig): Record<string, string> {
  return withHeaders(provider, provider.apiKey ? { 'x-goog-api-key': provider.apiKey } : {});
}

function part(p: ContentPart): JsonObject[] {
  if (p.type === 'text') return p.text === '' ? [] : [{ text: p.text }];
  const inline = p.data !== undefined ? { mediaType: p.mediaType, data: p.data } : parseDataUrl(p.url ?? '');
  if (inline) return [{ inlineData: { mimeType: inline.mediaType, data: inline.data } }];
  return [{ fileData: { mimeType: p.mediaType, fileUri: p.url ?? '' } }];
}

/** Merges consecutive same-role turns: parallel function responses belong in one turn. */
function push(contents: Content[], role: Role, parts: JsonObject[]): void {
  if (parts.length === 0) return;
  const last = contents[contents.length - 1];
  if (last && last.role === role) last.parts.push(...parts);
  else contents.push({ role, parts: [...parts] });
}

/** A tool result as Gemini's `response` object: a JSON object as-is, anything else wrapped. */
function toolResponse(content: string): JsonObject {
  const parsed = parseJson(content);
  if (parsed.ok && isObject(parsed.value)) return parsed.value;
  return { result: parsed.ok ? parsed.value : content };
}

/**
 * Builds the streaming request. Gemini's function responses name the function rather than the
 * call id, so names are looked up from the assistant turns that made the calls. A final
 * assistant message is sent as a `model` turn as-is (prefill, for the models that accept it).
 */
export function buildGoogleRequest(target: ModelTarget, request: ChatRequest): HttpCall {
  const { provider, model } = target;
  const system: string[] = [];
  const contents: Content[] = [];
  const callNames = new Map<string, string>();
  for (const m of request.messages) {
    if (m.role === 'system') {
      if (m.content !== '') system.push(m.content);
    } else if (m.role === 'user') {
      push(
        contents,
        'user',
        typeof m.content === 'string' ? part({ type: 'text', text: m.content }) : m.content.flatMap(part),
      );
    } else if (m.role === 'assistant') {
      const calls = (m.toolCalls ?? []).map((c) => {
        callNames.set(c.id, c.name);
        return { functionCall: { name: c.name, args: argsObject(c.arguments) } };
      });
      push(contents, 'model', [...part({ type: 'text', text: m.content }), ...calls]);
    } else {
      const name = callNames.get(m.toolCallId) ?? m.toolCallId;
      push(contents, 'user', [{ functionResponse: { name, response: toolResponse(m.content) } }]);
    }
  }
  const body: JsonObject = { contents };
  if (system.length > 0) body.systemInstruction = { parts: [{ text: system.join('\n\n') }] };
  const generationConfig: JsonObject = {};
  if (request.maxTokens !== undefined) generationConfig.maxOutputTokens = request.maxTokens;
  if (request.temperature !== undefined) generationConfig.temperature = request.temperature;
  if (request.topP !== undefined) generationConfig.topP = request.topP;
  if (request.stop?.length) generationConfig.stopSequences = request.stop;
  if (request.seed !== undefined) generationConfig.seed = request.seed;
  if (request.json || request.jsonSchema) generationConfig.responseMimeType = 'application/json';
  // Gemini takes a JSON Schema as it is here (not the OpenAPI subset `responseSchema` wants).
  const schema = request.jsonSchema?.schema;
  if (schema) generationConfig.responseJsonSchema = withoutDialect(schema);
  if (Object.keys(generationConfig).length > 0) body.generationConfig = generationConfig;
  if (request.tools && request.tools.length > 0) {
    body.tools = [
      {
        functionDeclarations: request.tools.map((t) => ({
          name: t.name,
          ...(t.description !== undefined && { description: t.description }),
          // Gemini refuses an object schema without properties ("should be non-empty for OBJECT
          // type"): a tool that takes nothing is declared without parameters.
          ...(takesSomething(t.parameters) && { parameters: geminiSchema(t.parameters) }),
        })),
      },
    ];
    const choice = request.toolChoice;
    if (choice !== undefined && choice !== 'auto')
      body.toolConfig = {
        functionCallingConfig:
          choice === 'none'
            ? { mode: 'NONE' }
            : choice === 'required'
              ? { mode: 'ANY' }
              : { mode: 'ANY', allowedFunctionNames: [choice.name] },
      };
  }
  return {
    url: `${trimBase(provider.baseUrl)}/v1beta/models/${modelPath(model.upstreamModel)}:streamGenerateContent?alt=sse`,
    headers: { ...headers(provider), 'content-type': 'application/json', accept: 'text/event-stream' },
    body,
  };
}

/** The model list request used to test a provider without naming a model. */
export function googleProbe(provider: ProviderConfig): HttpCall {
  return { method: 'GET', url: `${trimBase(provider.baseUrl)}/v1beta/models`, headers: headers(provider) };
}
