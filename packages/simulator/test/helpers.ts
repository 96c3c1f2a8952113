/** Test helpers: protocol-neutral requests to a simulator and parsers for its responses. */
import type { AttemptRecord, Simulator } from '../src/index.js';

export type Proto = 'openai' | 'azure' | 'anthropic' | 'gemini';
export const PROTOCOLS: Proto[] = ['openai', 'azure', 'anthropic', 'gemini'];

export interface Msg {
  role: 'user' | 'assistant';
  text: string;
}

export interface CallOptions {
  model?: string;
  provider?: string;
  stream?: boolean;
  messages?: Msg[];
  prompt?: string;
  system?: string;
  tools?: boolean;
  maxTokens?: number;
  includeUsage?: boolean;
  signal?: AbortSignal;
  /** Leave out credentials. */
  noAuth?: boolean;
  /**
   * Ask for JSON, with a schema: in the protocol's own field (Anthropic has none), or with `words`
   * in the system prompt, as Understudy asks Anthropic and a backup continuing JSON.
   */
  json?: { schema?: Record<string, unknown>; words?: boolean };
  /** More body fields, as given. */
  fields?: Record<string, unknown>;
}

/** The system prompt of a call: its own, then the JSON ask in words when one is made so. */
function systemOf(o: CallOptions, proto: Proto): string | undefined {
  if (!o.json || !(o.json.words || proto === 'anthropic')) return o.system;
  const schema = o.json.schema && `It must match this JSON Schema: ${JSON.stringify(o.json.schema)}`;
  return [o.system, 'Respond with one valid JSON object only.', schema].filter(Boolean).join('\n');
}

/** Sends a chat request in the given protocol's wire format. */
export function call(sim: Simulator, proto: Proto, o: CallOptions = {}): Promise<Response> {
  const model = o.model ?? 'sim-alpha';
  const stream = o.stream ?? true;
  const messages = o.messages ?? [{ role: 'user', text: o.prompt ?? 'What is fallback?' }];
  const system = systemOf(o, proto);
  const jsonField = o.json && !o.json.words ? o.json : undefined;
  const base = o.provider === undefined ? sim.url : `${sim.url}/p/${o.provider}`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  let url: string;
  let body: Record<string, unknown>;
  if (proto === 'openai' || proto === 'azure') {
    const msgs: { role: string; content: string }[] = messages.map((m) => ({
      role: m.role,
      content: m.text,
    }));
    if (system !== undefined) msgs.unshift({ role: 'system', content: system });
    body = { model, messages: msgs, stream };
    if (o.includeUsage ?? true) body.stream_options = { include_usage: true };
    if (o.maxTokens !== undefined) body.max_tokens = o.maxTokens;
    if (o.tools)
      body.tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }];
    if (jsonField)
      body.response_format = jsonField.schema
        ? { type: 'json_schema', json_schema: { name: 'answer', schema: jsonField.schema, strict: true } }
        : { type: 'json_object' };
    if (proto === 'openai') {
      url = `${base}/v1/chat/completions`;
      if (!o.noAuth) headers.authorization = 'Bearer test-key';
    } else {
      delete body.model;
      url = `${base}/openai/deployments/${encodeURIComponent(model)}/chat/completions?api-version=2024-10-21`;
      if (!o.noAuth) headers['api-key'] = 'test-key';
    }
  } else if (proto === 'anthropic') {
    url = `${base}/v1/messages`;
    body = {
      model,
      max_tokens: o.maxTokens ?? 1024,
      stream,
      messages: messages.map((m) => ({ role: m.role, content: m.text })),
    };
    if (system !== undefined) body.system = system;
    if (o.tools) body.tools = [{ name: 'get_weather', input_schema: { type: 'object' } }];
    headers['anthropic-version'] = '2023-06-01';
    if (!o.noAuth) headers['x-api-key'] = 'test-key';
  } else {
    const method = stream ? 'streamGenerateContent?alt=sse' : 'generateContent';
    url = `${base}/v1beta/models/${encodeURIComponent(model)}:${method}`;
    body = {
      contents: messages.map((m) => ({
        role: m.role === 'assistant' ? 'model' : 'user',
        parts: [{ text: m.text }],
      })),
    };
    if (system !== undefined) body.systemInstruction = { parts: [{ text: system }] };
    if (o.maxTokens !== undefined) body.generationConfig = { maxOutputTokens: o.maxTokens };
    if (jsonField)
      body.generationConfig = {
        ...(body.generationConfig as object | undefined),
        responseMimeType: 'application/json',
        ...(jsonField.schema && { responseJsonSchema: jsonField.schema }),
      };
    if (o.tools) body.tools = [{ functionDeclarations: [{ name: 'get_weather' }] }];
    if (!o.noAuth) headers['x-goog-api-key'] = 'test-key';
  }
  Object.assign(body, o.fields);
  const init: RequestInit = { method: 'POST', headers, body: JSON.stringify(body) };
  if (o.signal !== undefined) init.signal = o.signal;
  return fetch(url, init);
}

export interface Frame {
  event?: string;
  data: string;
}

/** Splits an SSE body into frames (comments dropped). */
export function parseSse(text: string): Frame[] {
  const frames: Frame[] = [];
  for (const block of text.split('\n\n')) {
    const lines = block.split('\n').filter((l) => l.length > 0 && !l.startsWith(':'));
    if (lines.length === 0) continue;
    const frame: Frame = { data: '' };
    for (const line of lines) {
      if (line.startsWith('event: ')) frame.event = line.slice(7);
      else if (line.startsWith('data: ')) frame.data += line.slice(6);
    }
    frames.push(frame);
  }
  return frames;
}

/** JSON of a frame, or undefined when it does not parse (the malformed chunk). */
export function json(frame: Frame): Record<string, unknown> | undefined {
  try {
    return JSON.parse(frame.data) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** What a stream said, protocol-neutral. */
export interface Collected {
  text: string;
  /** OpenAI's `delta.refusal` words. */
  refusal: string;
  toolArgs: string;
  toolName?: string;
  finish?: string;
  inputTokens?: number;
  outputTokens?: number;
  terminated: boolean;
  error?: Record<string, unknown>;
  malformed: number;
  frames: Frame[];
}

/** Reads a nested value from parsed JSON without trusting its shape. */
export function at(value: unknown, ...path: (string | number)[]): unknown {
  let v = value;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Interprets a complete SSE body in the given protocol. */
export function collect(proto: Proto, body: string): Collected {
  const frames = parseSse(body);
  const out: Collected = { text: '', refusal: '', toolArgs: '', terminated: false, malformed: 0, frames };
  for (const f of frames) {
    if (f.data === '[DONE]') {
      out.terminated = true;
      continue;
    }
    const j = json(f);
    if (j === undefined) {
      out.malformed++;
      continue;
    }
    if (j.error !== undefined) {
      out.error = j.error as Record<string, unknown>;
      continue;
    }
    if (proto === 'openai' || proto === 'azure') {
      if (j.usage) {
        out.inputTokens = num(at(j, 'usage', 'prompt_tokens'));
        out.outputTokens = num(at(j, 'usage', 'completion_tokens'));
      }
      const choice = at(j, 'choices', 0);
      if (choice === undefined) continue;
      out.text += str(at(choice, 'delta', 'content'));
      out.refusal += str(at(choice, 'delta', 'refusal'));
      for (const tc of list(at(choice, 'delta', 'tool_calls'))) {
        const name = str(at(tc, 'function', 'name'));
        if (name) out.toolName = name;
        out.toolArgs += str(at(tc, 'function', 'arguments'));
      }
      const finish = str(at(choice, 'finish_reason'));
      if (finish) out.finish = finish;
    } else if (proto === 'anthropic') {
      if (j.type === 'message_start') out.inputTokens = num(at(j, 'message', 'usage', 'input_tokens'));
      if (j.type === 'content_block_start' && at(j, 'content_block', 'type') === 'tool_use') {
        out.toolName = str(at(j, 'content_block', 'name'));
      }
      if (j.type === 'content_block_delta') {
        out.text += str(at(j, 'delta', 'text'));
        out.toolArgs += str(at(j, 'delta', 'partial_json'));
      }
      if (j.type === 'message_delta') {
        out.finish = str(at(j, 'delta', 'stop_reason'));
        out.outputTokens = num(at(j, 'usage', 'output_tokens'));
      }
      if (j.type === 'message_stop') out.terminated = true;
    } else {
      const cand = at(j, 'candidates', 0);
      for (const part of list(at(cand, 'content', 'parts'))) {
        out.text += str(at(part, 'text'));
        const call = at(part, 'functionCall');
        if (call !== undefined) {
          out.toolName = str(at(call, 'name'));
          out.toolArgs += JSON.stringify(at(call, 'args'));
        }
      }
      if (j.usageMetadata) {
        out.inputTokens = num(at(j, 'usageMetadata', 'promptTokenCount'));
        out.outputTokens = num(at(j, 'usageMetadata', 'candidatesTokenCount'));
      }
      const finish = str(at(cand, 'finishReason'));
      if (finish) {
        out.finish = finish;
        out.terminated = true; // Gemini has no marker: the finishReason chunk is the end.
      }
    }
  }
  return out;
}

/** Text, finish reason and usage of a whole (non-streaming) answer. */
export function wholeAnswer(
  proto: Proto,
  j: unknown,
): { text: string; refusal?: string; finish: string; input?: number; output?: number } {
  if (proto === 'openai' || proto === 'azure') {
    return {
      text: str(at(j, 'choices', 0, 'message', 'content')),
      refusal: str(at(j, 'choices', 0, 'message', 'refusal')),
      finish: str(at(j, 'choices', 0, 'finish_reason')),
      input: num(at(j, 'usage', 'prompt_tokens')),
      output: num(at(j, 'usage', 'completion_tokens')),
    };
  }
  if (proto === 'anthropic') {
    return {
      text: str(at(j, 'content', 0, 'text')),
      finish: str(at(j, 'stop_reason')),
      input: num(at(j, 'usage', 'input_tokens')),
      output: num(at(j, 'usage', 'output_tokens')),
    };
  }
  return {
    text: str(at(j, 'candidates', 0, 'content', 'parts', 0, 'text')),
    finish: str(at(j, 'candidates', 0, 'finishReason')),
    input: num(at(j, 'usageMetadata', 'promptTokenCount')),
    output: num(at(j, 'usageMetadata', 'candidatesTokenCount')),
  };
}

/** Polls the attempt log until `pred` holds for the last matching record (bounded: ~2 s). */
export async function waitForAttempt(
  sim: Simulator,
  pred: (a: AttemptRecord) => boolean,
  model?: string,
): Promise<AttemptRecord> {
  for (let i = 0; i < 100; i++) {
    const list = sim.attempts(model === undefined ? {} : { model });
    const last = list[list.length - 1];
    if (last !== undefined && pred(last)) return last;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`attempt never matched; last: ${JSON.stringify(sim.attempts().at(-1))}`);
}

/** Error type/status of an error body in the protocol's shape. */
export function errorKind(proto: Proto, j: unknown): string {
  return str(at(j, 'error', proto === 'gemini' ? 'status' : 'type'));
}
