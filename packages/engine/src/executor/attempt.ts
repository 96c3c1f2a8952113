/**
 * One upstream call with the SPEC §2.1 timeouts: connect/header, first token, stall. The watchdog
 * measures only time spent waiting on the provider, so a slow reader downstream (backpressure)
 * never looks like a stalled provider.
 */
import { classifyNetworkError, timeoutError } from '../classify.js';
import type { Clock } from '../clock.js';
import { ProviderError, type TimeoutKind } from '../errors.js';
import type { FinishReason, ProviderEvent, ToolCall } from '../types/chat.js';
import type { ModelTarget, ProviderClient } from '../types/provider.js';
import type { ChatRequest } from '../types/chat.js';

/** Resolved timeouts of one attempt, in milliseconds. */
export interface AttemptTimeouts {
  connectMs: number;
  firstTokenMs: number;
  stallMs: number;
}

/** Content events an attempt passes on. */
export type ContentEvent = Extract<ProviderEvent, { type: 'text' } | { type: 'tool_call' }>;

/** How an attempt ended. */
export interface AttemptOutcome {
  status: 'ok' | 'failed' | 'cancelled';
  failure?: ProviderError;
  /** Content was passed on before it ended. */
  contentSent: boolean;
  text: string;
  toolCalls: ToolCall[];
  finish?: FinishReason;
  usage?: { inputTokens: number; outputTokens: number };
  ttftMs?: number;
  malformed: number;
  durationMs: number;
}

function cancelledError(): ProviderError {
  return new ProviderError({ reason: 'cancelled', message: 'cancelled by the caller' });
}

/** Runs one upstream call, yielding its content events; returns how it ended. Never throws. */
export async function* runAttempt(
  client: ProviderClient,
  clock: Clock,
  target: ModelTarget,
  request: ChatRequest,
  t: AttemptTimeouts,
  outer: AbortSignal | undefined,
  onFirstContent: (ttftMs: number) => void,
): AsyncGenerator<ContentEvent, AttemptOutcome, undefined> {
  const start = clock.now();
  const ctl = new AbortController();
  const out: AttemptOutcome = {
    status: 'failed',
    contentSent: false,
    text: '',
    toolCalls: [],
    malformed: 0,
    durationMs: 0,
  };
  const finish = (status: AttemptOutcome['status'], failure?: ProviderError): AttemptOutcome => {
    out.status = status;
    if (failure) out.failure = failure;
    out.durationMs = clock.now() - start;
    return out;
  };
  if (outer?.aborted) return finish('cancelled', cancelledError());
  const onOuter = () => ctl.abort(cancelledError());
  outer?.addEventListener('abort', onOuter, { once: true });

  let phase: TimeoutKind = 'connect';
  let limitMs = t.connectMs;
  let askedAt = start;
  let waiting = true;
  let timedOut: ProviderError | undefined;
  let rejectTimeout: (e: ProviderError) => void = () => {};
  const timeout = new Promise<never>((_, reject) => (rejectTimeout = reject));
  timeout.catch(() => {});
  const watchdog = clock.timer(limitMs, function fire() {
    const elapsed = clock.now() - askedAt;
    if (!waiting || elapsed < limitMs) return watchdog.reset(waiting ? limitMs - elapsed : limitMs);
    timedOut = timeoutError(phase, limitMs);
    ctl.abort(timedOut);
    rejectTimeout(timedOut);
  });
  const enter = (next: TimeoutKind, ms: number) => {
    phase = next;
    limitMs = ms;
    watchdog.reset(ms);
  };

  const it = client.stream(target, request, ctl.signal)[Symbol.asyncIterator]();
  let done = false;
  try {
    while (true) {
      let r: IteratorResult<ProviderEvent>;
      askedAt = clock.now();
      waiting = true;
      try {
        r = await Promise.race([it.next(), timeout]);
      } catch (e) {
        if (timedOut) return finish('failed', timedOut);
        if (outer?.aborted) return finish('cancelled', cancelledError());
        const err = e instanceof ProviderError ? e : classifyNetworkError(e, phase !== 'connect');
        return finish(err.reason === 'cancelled' ? 'cancelled' : 'failed', err);
      } finally {
        waiting = false;
      }
      if (r.done) {
        done = true;
        break;
      }
      const ev = r.value;
      switch (ev.type) {
        case 'open':
          if (phase === 'connect') enter('first_token', t.firstTokenMs);
          break;
        case 'text':
        case 'tool_call': {
          if (ev.type === 'text' && ev.text.length === 0) break;
          if (!out.contentSent) {
            out.contentSent = true;
            out.ttftMs = clock.now() - start;
            enter('stall', t.stallMs);
            onFirstContent(out.ttftMs);
          }
          if (ev.type === 'text') out.text += ev.text;
          else collectToolCall(out.toolCalls, ev);
          yield ev;
          break;
        }
        case 'usage':
          out.usage = { inputTokens: ev.inputTokens, outputTokens: ev.outputTokens };
          break;
        case 'finish':
          out.finish = ev.reason;
          break;
        case 'malformed':
          out.malformed++;
          break;
      }
    }
    // SPEC §2.4: a finish reason makes a stream complete even without its end marker.
    if (out.finish === undefined) {
      const message = out.contentSent
        ? 'the stream ended without its terminator'
        : 'the stream ended before any content';
      return finish('failed', new ProviderError({ reason: 'interrupted', message, inStream: true }));
    }
    return finish('ok');
  } finally {
    watchdog.cancel();
    outer?.removeEventListener('abort', onOuter);
    if (!done) {
      // Stop the upstream call (closes its socket) without waiting on an adapter that may hang.
      if (!ctl.signal.aborted) ctl.abort(cancelledError());
      it.return?.().catch(() => {});
    }
  }
}

/** Accumulates streamed tool-call deltas into whole calls. */
function collectToolCall(calls: ToolCall[], ev: Extract<ProviderEvent, { type: 'tool_call' }>): void {
  let call = calls[ev.index];
  if (!call) {
    call = { id: ev.id ?? `call_${ev.index}`, name: ev.name ?? '', arguments: '' };
    calls[ev.index] = call;
  }
  if (ev.id) call.id = ev.id;
  if (ev.name) call.name = ev.name;
  call.arguments += ev.argumentsDelta;
}
