/** Anthropic Messages response (stream events or a whole message) → canonical events. */
import type { FinishReason, ProviderEvent } from '@understudy/engine';
import { malformed, parseChunk, streamError } from '../events.js';
import { arr, num, obj, str, type JsonObject } from '../json.js';
import type { ResponseParser } from '../protocol.js';
import type { SseEvent } from '../sse/index.js';
import { PrefillJoiner } from './prefill.js';

/** Normalises a stop reason. */
export function anthropicFinish(reason: string): FinishReason {
  switch (reason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn and anything newer.
      return 'stop';
  }
}

/** Prompt tokens: uncached plus cache writes plus cache reads, the prompt's real size. */
function inputTokens(u: JsonObject): number | undefined {
  const parts = [u.input_tokens, u.cache_creation_input_tokens, u.cache_read_input_tokens].map(num);
  return parts.every((p) => p === undefined) ? undefined : parts.reduce<number>((a, b) => a + (b ?? 0), 0);
}

/** Per-response state: content-block index → tool-call index, usage so far, prefill joiner. */
class AnthropicState {
  readonly toolIndex = new Map<number, number>();
  /** Open tool blocks that have yielded no argument text yet. */
  readonly bare = new Set<number>();
  input = 0;
  constructor(readonly prefill: PrefillJoiner) {}

  text(t: string, out: ProviderEvent[]): void {
    const kept = this.prefill.take(t);
    if (kept) out.push({ type: 'text', text: kept });
  }

  toolStart(
    block: number,
    id: string | undefined,
    name: string | undefined,
    args: string,
    out: ProviderEvent[],
  ): void {
    const index = this.toolIndex.size;
    this.toolIndex.set(block, index);
    if (args === '') this.bare.add(block);
    out.push({
      type: 'tool_call',
      index,
      ...(id !== undefined && { id }),
      ...(name !== undefined && { name }),
      argumentsDelta: args,
    });
  }

  /**
   * Ends a tool block. A call without parameters streams no argument text (no input_json_delta, or
   * only empty ones), and "" is not JSON: it gets `{}`, as OpenAI sends for such a call.
   */
  toolStop(block: number, out: ProviderEvent[]): void {
    const index = this.toolIndex.get(block);
    if (index !== undefined && this.bare.delete(block))
      out.push({ type: 'tool_call', index, argumentsDelta: '{}' });
  }
}

function streamEvent(type: string, root: JsonObject, s: AnthropicState, out: ProviderEvent[]): void {
  switch (type) {
    case 'message_start': {
      const u = obj(obj(root.message)?.usage);
      s.input = (u && inputTokens(u)) ?? s.input;
      return;
    }
    case 'content_block_start': {
      const block = obj(root.content_block);
      const index = num(root.index) ?? 0;
      if (block?.type === 'text') s.text(str(block.text) ?? '', out);
      else if (block?.type === 'tool_use') s.toolStart(index, str(block.id), str(block.name), '', out);
      // thinking, redacted_thinking and server tool blocks are not part of the answer.
      return;
    }
    case 'content_block_delta': {
      const delta = obj(root.delta);
      if (delta?.type === 'text_delta') s.text(str(delta.text) ?? '', out);
      else if (delta?.type === 'input_json_delta') {
        const block = num(root.index) ?? -1;
        const index = s.toolIndex.get(block);
        const json = str(delta.partial_json) ?? '';
        if (index !== undefined && json !== '') {
          s.bare.delete(block);
          out.push({ type: 'tool_call', index, argumentsDelta: json });
        }
      }
      return;
    }
    case 'content_block_stop':
      s.toolStop(num(root.index) ?? -1, out);
      return;
    case 'message_delta': {
      // The content is over: a tool block a server left open ends here, before the finish.
      for (const block of [...s.bare]) s.toolStop(block, out);
      const u = obj(root.usage);
      const output = num(u?.output_tokens);
      if (u && output !== undefined) {
        // Newer API versions repeat the (final) input count here; prefer it when present.
        s.input = inputTokens(u) ?? s.input;
        out.push({ type: 'usage', inputTokens: s.input, outputTokens: output });
      }
      const stop = str(obj(root.delta)?.stop_reason);
      if (stop) out.push({ type: 'finish', reason: anthropicFinish(stop) });
      return;
    }
    // ping, message_stop and unknown future events carry no content.
  }
}

function messageEvents(root: JsonObject, s: AnthropicState, out: ProviderEvent[]): void {
  for (const raw of arr(root.content)) {
    const block = obj(raw);
    if (block?.type === 'text') s.text(str(block.text) ?? '', out);
    else if (block?.type === 'tool_use') {
      s.toolStart(s.toolIndex.size, str(block.id), str(block.name), JSON.stringify(block.input ?? {}), out);
    }
  }
  const u = obj(root.usage);
  if (u)
    out.push({ type: 'usage', inputTokens: inputTokens(u) ?? 0, outputTokens: num(u.output_tokens) ?? 0 });
  const stop = str(root.stop_reason);
  if (stop) out.push({ type: 'finish', reason: anthropicFinish(stop) });
}

/** A parser for one Anthropic response; `trimmedPrefill` is the whitespace cut from the prefill. */
export function anthropicParser(
  secrets: readonly (string | undefined)[],
  trimmedPrefill = '',
): ResponseParser {
  const state = new AnthropicState(new PrefillJoiner(trimmedPrefill));
  let done = false;
  return {
    get done() {
      return done;
    },
    event(ev: SseEvent): ProviderEvent[] {
      if (done) return [];
      const root = parseChunk(ev.data);
      if (!root) return [malformed(ev.data, secrets)];
      // The data's own `type` is authoritative; the SSE `event:` name only stands in for it.
      const type = str(root.type) ?? ev.event ?? '';
      if (type === 'error') throw streamError(root, secrets);
      if (type === 'message_stop') done = true;
      const out: ProviderEvent[] = [];
      streamEvent(type, root, state, out);
      return out;
    },
    json(body: unknown): ProviderEvent[] {
      const root = obj(body);
      if (!root) return [malformed(JSON.stringify(body) ?? '', secrets)];
      if (root.type === 'error') throw streamError(root, secrets);
      const out: ProviderEvent[] = [];
      messageEvents(root, state, out);
      return out;
    },
    end: () => [],
  };
}
