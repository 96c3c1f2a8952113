/** Gemini `GenerateContentResponse` chunks (SSE, a JSON array, or one object) → canonical events. */
import { ProviderError, redact, type FinishReason, type ProviderEvent } from '@understudy/engine';
import { malformed, parseChunk, streamError } from '../events.js';
import { arr, num, obj, str, type JsonObject } from '../json.js';
import type { ResponseParser } from '../protocol.js';
import type { SseEvent } from '../sse/index.js';

const FILTER_REASONS = new Set([
  'SAFETY',
  'RECITATION',
  'PROHIBITED_CONTENT',
  'BLOCKLIST',
  'SPII',
  'IMAGE_SAFETY',
]);

/** Normalises a finish reason. Gemini says STOP even after function calls, hence `sawTools`. */
export function googleFinish(reason: string, sawTools: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (FILTER_REASONS.has(reason)) return 'content_filter';
  return sawTools ? 'tool_calls' : 'stop';
}

interface UsageCounts {
  inputTokens: number;
  outputTokens: number;
}

/**
 * Per-response state. Gemini repeats cumulative `usageMetadata` on many chunks; one usage event
 * is yielded with the finish (and once more at the end only if the counts changed after it).
 */
class GoogleState {
  tools = 0;
  usage: UsageCounts | undefined;
  emitted: UsageCounts | undefined;

  flushUsage(out: ProviderEvent[]): void {
    const u = this.usage;
    if (!u || (this.emitted?.inputTokens === u.inputTokens && this.emitted.outputTokens === u.outputTokens))
      return;
    this.emitted = u;
    out.push({ type: 'usage', ...u });
  }
}

function chunkEvents(
  root: JsonObject,
  s: GoogleState,
  secrets: readonly (string | undefined)[],
  out: ProviderEvent[],
) {
  if (root.error != null) throw streamError(root, secrets);
  const block = str(obj(root.promptFeedback)?.blockReason);
  if (block) {
    // The prompt itself was refused: final, and the provider's reason is the answer (SPEC §2.1).
    throw new ProviderError({
      reason: 'content_filtered',
      message: redact(`prompt blocked by the provider: ${block}`, secrets),
      code: block,
      inStream: true,
    });
  }
  const candidate = obj(arr(root.candidates)[0]);
  for (const raw of arr(obj(candidate?.content)?.parts)) {
    const p = obj(raw);
    if (!p || p.thought === true) continue; // thought summaries are not the answer
    const text = str(p.text);
    if (text) out.push({ type: 'text', text });
    const call = obj(p.functionCall);
    if (call) {
      const index = s.tools++;
      out.push({
        type: 'tool_call',
        index,
        // Gemini calls usually carry no id; a per-response one lets results be matched back.
        id: str(call.id) ?? `call_${index}`,
        name: str(call.name) ?? '',
        argumentsDelta: JSON.stringify(call.args ?? {}),
      });
    }
  }
  const meta = obj(root.usageMetadata);
  if (meta) {
    const output = (num(meta.candidatesTokenCount) ?? 0) + (num(meta.thoughtsTokenCount) ?? 0);
    s.usage = { inputTokens: num(meta.promptTokenCount) ?? 0, outputTokens: output };
  }
  const finish = str(candidate?.finishReason);
  if (finish && finish !== 'FINISH_REASON_UNSPECIFIED') {
    s.flushUsage(out);
    out.push({ type: 'finish', reason: googleFinish(finish, s.tools > 0) });
  }
}

/** A parser for one Gemini response. There is no end marker: the finishReason chunk ends it. */
export function googleParser(secrets: readonly (string | undefined)[]): ResponseParser {
  const state = new GoogleState();
  return {
    done: false,
    event(ev: SseEvent): ProviderEvent[] {
      const root = parseChunk(ev.data);
      if (!root) return [malformed(ev.data, secrets)];
      const out: ProviderEvent[] = [];
      chunkEvents(root, state, secrets, out);
      return out;
    },
    json(body: unknown): ProviderEvent[] {
      const out: ProviderEvent[] = [];
      for (const item of Array.isArray(body) ? body : [body]) {
        const root = obj(item);
        if (root) chunkEvents(root, state, secrets, out);
        else out.push(malformed(JSON.stringify(item) ?? '', secrets));
      }
      return out;
    },
    end(): ProviderEvent[] {
      const out: ProviderEvent[] = [];
      state.flushUsage(out);
      return out;
    },
  };
}
