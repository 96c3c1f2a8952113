/**
 * One upstream call with the SPEC §2.1 timeouts: connect/header, first token, stall. The watchdog
 * measures only time spent waiting on the provider, so a slow reader downstream (backpressure)
 * never looks like a stalled provider. Only content (a non-empty text delta, a tool-call delta)
 * satisfies the first-token timeout or restarts the stall timeout: a provider that keeps a stream
 * busy with keep-alives, malformed chunks, usage or empty deltas is still silent to the member.
 */
import { Cancellation, type CancelSignal } from '../cancel.js';
import { classifyNetworkError, timeoutError } from '../classify.js';
import type { Clock } from '../clock.js';
import { ProviderError, type TimeoutKind } from '../errors.js';
import type { FinishReason, ProviderEvent, TextEvent, ToolCall } from '../types/chat.js';
import type { ModelTarget, ProviderClient } from '../types/provider.js';
import type { ChatRequest } from '../types/chat.js';
import { withinOutputLimit } from './rules.js';
import { StopScanner } from './stop.js';

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
  outer: CancelSignal | undefined,
  onFirstContent: (ttftMs: number) => void,
  /** The text shown already that this attempt continues (a takeover by prefill or instruction). */
  continues = '',
): AsyncGenerator<ContentEvent, AttemptOutcome, undefined> {
  const start = clock.now();
  const ctl = new Cancellation();
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
  // Provider time counted against the current timeout: the sum of the waits on the adapter since
  // the phase began (headers) or since the last content. Time between waits (the consumer
  // reading, or not) is never added, so backpressure does not count against the provider.
  let waitedMs = 0;
  let askedAt = start;
  let waiting = true;
  // The watchdog fired while the consumer held the stream: it is re-armed when waiting resumes,
  // rather than spinning on a timer while a slow reader takes its time.
  let parked = false;
  let timedOut: ProviderError | undefined;
  // Rejects the wait in progress. One promise per wait, settled either way: Promise.race against a
  // long-lived timeout promise would leave one reaction on it per chunk until the attempt ended.
  let failWait: (e: ProviderError) => void = () => {};
  // The timer is only a wake-up: content does not touch it (no timer work per streamed chunk), so
  // it may fire early; it then re-arms itself for what is left. It never fires late, because every
  // re-arm is computed from the time actually waited.
  const watchdog = clock.timer(limitMs, function fire() {
    if (!waiting) {
      parked = true;
      return;
    }
    const elapsed = waitedMs + (clock.now() - askedAt);
    if (elapsed < limitMs) return arm(limitMs - elapsed);
    timedOut = timeoutError(phase, limitMs);
    ctl.abort(timedOut);
    failWait(timedOut);
  });
  // When the armed wake-up is due (stale while parked: nothing is armed then).
  let armedAt = start + limitMs;
  const arm = (ms: number) => {
    armedAt = clock.now() + ms;
    watchdog.reset(ms);
  };
  const enter = (next: TimeoutKind, ms: number) => {
    phase = next;
    limitMs = ms;
    waitedMs = 0;
    // A phase whose deadline is later than the armed wake-up needs no timer work: the wake-up
    // comes first and re-arms for what is left. The usual answer moves from connect (5 s) to
    // first token (10 s) to stall (15 s), so this saves two timer re-creations per attempt.
    if (parked || clock.now() + ms < armedAt) arm(ms);
    parked = false;
  };

  /** Passes content on: the first starts the stall timeout, each later one restarts it. */
  const show = <E extends ContentEvent>(ev: E): E => {
    if (!out.contentSent) {
      out.contentSent = true;
      out.ttftMs = clock.now() - start;
      enter('stall', t.stallMs);
      onFirstContent(out.ttftMs);
    } else {
      waitedMs = 0;
    }
    if (ev.type === 'text') out.text += ev.text;
    else collectToolCall(out.toolCalls, ev as Extract<ContentEvent, { type: 'tool_call' }>);
    return ev;
  };
  // Only when the caller gave stop sequences: an answer without them pays nothing for this.
  const stops = request.stop?.length ? new StopScanner(request.stop, continues) : undefined;
  // The text event whose tail the scanner holds: what is flushed at the end is marked as it was.
  let lastText: TextEvent | undefined;

  const sent = withinOutputLimit(request, target.model);
  const it = client.stream(target, sent, ctl.signal)[Symbol.asyncIterator]();
  let done = false;
  try {
    while (true) {
      let r: IteratorResult<ProviderEvent>;
      askedAt = clock.now();
      waiting = true;
      if (parked) {
        parked = false;
        arm(Math.max(0, limitMs - waitedMs));
      }
      try {
        r = await new Promise<IteratorResult<ProviderEvent>>((resolve, reject) => {
          failWait = reject;
          it.next().then(resolve, reject);
        });
      } catch (e) {
        // After a finish reason the answer is whole (SPEC §2.4): a provider that then neither sends
        // its end marker nor closes only loses its connection, not the answer.
        if (timedOut) return out.finish !== undefined ? finish('ok') : finish('failed', timedOut);
        if (outer?.aborted) return finish('cancelled', cancelledError());
        const err = e instanceof ProviderError ? e : classifyNetworkError(e, phase !== 'connect');
        return finish(err.reason === 'cancelled' ? 'cancelled' : 'failed', err);
      } finally {
        waitedMs += clock.now() - askedAt;
        waiting = false;
      }
      // Events may already be buffered when the caller aborts (a slow consumer, a burst): stop at
      // once rather than reading them to a finish and calling a cancelled answer complete.
      if (outer?.aborted) return finish('cancelled', cancelledError());
      if (r.done) {
        const held = stops?.flush();
        if (held && lastText) yield show({ ...lastText, text: held });
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
          // An empty delta (OpenAI's opening `content: ""`, a keep-alive-like chunk) is not content.
          if (!isContent(ev)) break;
          if (stops === undefined || ev.type === 'tool_call') {
            yield show(ev);
            break;
          }
          lastText = ev;
          const step = stops.push(ev.text);
          if (step.text) yield show(step.text === ev.text ? ev : { ...ev, text: step.text });
          // Held back whole, it still shows the provider is not stalled.
          else if (out.contentSent) waitedMs = 0;
          if (step.stopped) {
            // The answer ends here; `done` stays false, so the upstream call is stopped below.
            out.finish = 'stop';
            return finish('ok');
          }
          break;
        }
        // Usage and finish come with or after the last content; they end an answer but do not
        // show the member anything, so they restart no timer.
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

/** True for an event the member sees: a non-empty text delta, or a tool-call delta that carries something. */
function isContent(ev: ContentEvent): boolean {
  if (ev.type === 'text') return ev.text.length > 0;
  return ev.argumentsDelta.length > 0 || Boolean(ev.id) || Boolean(ev.name);
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
