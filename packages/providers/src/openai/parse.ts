/** OpenAI Chat Completions response (streamed chunks or a whole completion) → canonical events. */
import type { FinishReason, ProviderEvent } from '@understudy/engine';
import { malformed, parseChunk, streamError } from '../events.js';
import { arr, num, obj, str, type JsonObject } from '../json.js';
import type { ResponseParser } from '../protocol.js';
import type { SseEvent } from '../sse/index.js';
import { textDelta } from './text-delta.js';

/** Normalises a finish reason; unknown words from compatible servers (`eos`, `end_turn`) mean stop. */
export function openaiFinish(reason: string): FinishReason {
  switch (reason) {
    case 'length':
    case 'max_tokens':
      return 'length';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    case 'content_filter':
      return 'content_filter';
    default:
      return 'stop';
  }
}

/** The usage event of a chunk or completion (`usage`, or Groq's `x_groq.usage`). */
function usageEvent(root: JsonObject): ProviderEvent | undefined {
  const u = obj(root.usage) ?? obj(obj(root.x_groq)?.usage);
  if (!u) return undefined;
  const input = num(u.prompt_tokens);
  const output = num(u.completion_tokens);
  if (input === undefined && output === undefined) return undefined;
  return { type: 'usage', inputTokens: input ?? 0, outputTokens: output ?? 0 };
}

/** The choice we asked for (index 0), or the only one. */
function firstChoice(root: JsonObject): JsonObject | undefined {
  const choices = arr(root.choices).map(obj);
  return choices.find((c) => c?.index === 0) ?? choices[0];
}

/**
 * Assigns tool-call indices. OpenAI sends `index`; some compatible servers omit it and send each
 * call whole, distinguished only by `id`, so a new id without an index opens a new call.
 */
class ToolIndexer {
  #byId = new Map<string, number>();
  #next = 0;
  #last = 0;

  index(explicit: number | undefined, id: string | undefined): number {
    let i: number;
    if (explicit !== undefined) i = explicit;
    else if (id !== undefined) i = this.#byId.get(id) ?? this.#next;
    else i = this.#last;
    if (id !== undefined) this.#byId.set(id, i);
    this.#next = Math.max(this.#next, i + 1);
    this.#last = i;
    return i;
  }
}

function toolEvent(
  index: number,
  id: string | undefined,
  name: string | undefined,
  args: string | undefined,
): ProviderEvent | undefined {
  if (id === undefined && name === undefined && !args) return undefined;
  return {
    type: 'tool_call',
    index,
    ...(id !== undefined && { id }),
    ...(name !== undefined && { name }),
    argumentsDelta: args ?? '',
  };
}

/** Events of one streamed chunk. */
function chunkEvents(root: JsonObject, tools: ToolIndexer, out: ProviderEvent[]): void {
  const choice = firstChoice(root);
  const delta = obj(choice?.delta);
  if (delta) {
    const text = str(delta.content);
    if (text) out.push({ type: 'text', text });
    // A structured-output refusal is the model's answer, in words of their own field.
    const refusal = str(delta.refusal);
    if (refusal) out.push({ type: 'text', text: refusal, refusal: true });
    for (const raw of arr(delta.tool_calls)) {
      const tc = obj(raw);
      if (!tc) continue;
      const fn = obj(tc.function);
      const id = str(tc.id);
      const ev = toolEvent(tools.index(num(tc.index), id), id, str(fn?.name), str(fn?.arguments));
      if (ev) out.push(ev);
    }
    const legacy = obj(delta.function_call);
    if (legacy) {
      const ev = toolEvent(tools.index(0, undefined), undefined, str(legacy.name), str(legacy.arguments));
      if (ev) out.push(ev);
    }
  }
  const finish = str(choice?.finish_reason);
  if (finish) out.push({ type: 'finish', reason: openaiFinish(finish) });
  const usage = usageEvent(root);
  if (usage) out.push(usage);
}

/** Events of a whole (non-streamed) completion. */
function completionEvents(root: JsonObject, out: ProviderEvent[]): void {
  const choice = firstChoice(root);
  const message = obj(choice?.message);
  const text = str(message?.content);
  if (text) out.push({ type: 'text', text });
  const refusal = str(message?.refusal);
  if (refusal) out.push({ type: 'text', text: refusal, refusal: true });
  arr(message?.tool_calls).forEach((raw, index) => {
    const tc = obj(raw);
    const fn = obj(tc?.function);
    const ev = toolEvent(index, str(tc?.id), str(fn?.name), str(fn?.arguments));
    if (ev) out.push(ev);
  });
  const finish = str(choice?.finish_reason);
  if (finish) out.push({ type: 'finish', reason: openaiFinish(finish) });
  const usage = usageEvent(root);
  if (usage) out.push(usage);
}

/** A parser for one OpenAI-protocol response. */
export function openaiParser(secrets: readonly (string | undefined)[]): ResponseParser {
  const tools = new ToolIndexer();
  let done = false;
  return {
    get done() {
      return done;
    },
    event(ev: SseEvent): ProviderEvent[] {
      if (done) return [];
      if (ev.data.trim() === '[DONE]') {
        done = true;
        return [];
      }
      if (ev.event !== 'error') {
        const text = textDelta(ev.data);
        if (text !== undefined) return text ? [{ type: 'text', text }] : [];
      }
      const root = parseChunk(ev.data);
      if (!root) {
        if (ev.event === 'error') throw streamError({ message: ev.data }, secrets);
        return [malformed(ev.data, secrets)];
      }
      if (root.error != null || ev.event === 'error') throw streamError(root, secrets);
      const out: ProviderEvent[] = [];
      chunkEvents(root, tools, out);
      return out;
    },
    json(body: unknown): ProviderEvent[] {
      const root = obj(body);
      if (!root) return [malformed(JSON.stringify(body) ?? '', secrets)];
      if (root.error != null) throw streamError(root, secrets);
      const out: ProviderEvent[] = [];
      completionEvents(root, out);
      return out;
    },
    end: () => [],
  };
}
