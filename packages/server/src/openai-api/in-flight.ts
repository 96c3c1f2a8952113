/**
 * API answers in flight (`/v1/chat/completions`), so that a graceful stop lets them finish within
 * the same grace period as the web chat's, and cancels only those still running after it.
 */
import { Cancellation, type CancelSignal } from '@understudy/engine';

/** One API answer being written. */
export interface ApiAnswer {
  /** Cancels upstream when the client goes away or the server stops past its grace period. */
  readonly signal: CancelSignal;
  /** True once the server stop cancelled it (the client is told so, in-band when streaming). */
  readonly cancelledByShutdown: boolean;
  /** Cancels it because its client went away. */
  clientGone(): void;
  /** Marks it ended (call once, whatever the outcome). */
  end(): void;
}

interface Entry {
  // A Cancellation, not an AbortController: one per API request, and Node 20's AbortSignal costs
  // ~3.6 µs to build and survives young-generation collections (see the engine's cancel.ts).
  abort: Cancellation;
  cancelledBy?: 'client' | 'shutdown';
  ended: Promise<void>;
}

/** The registry of API answers in flight. */
export class ApiAnswers {
  private readonly entries = new Set<Entry>();

  /** Answers in flight. */
  get size(): number {
    return this.entries.size;
  }

  /** Tracks a new answer until its `end()`. */
  begin(): ApiAnswer {
    let ended: () => void = () => undefined;
    const entry: Entry = { abort: new Cancellation(), ended: new Promise<void>((r) => (ended = r)) };
    this.entries.add(entry);
    return {
      signal: entry.abort.signal,
      get cancelledByShutdown() {
        return entry.cancelledBy === 'shutdown';
      },
      clientGone: () => {
        entry.cancelledBy ??= 'client';
        entry.abort.abort(new Error('client disconnected'));
      },
      end: () => {
        this.entries.delete(entry);
        ended();
      },
    };
  }

  /**
   * Graceful shutdown: waits up to `graceMs` for the answers in flight, then cancels the rest and
   * waits (briefly) until they have told their clients.
   */
  async shutdown(graceMs: number): Promise<void> {
    const all = () => Promise.all([...this.entries].map((e) => e.ended));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all(), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    for (const e of this.entries) {
      e.cancelledBy ??= 'shutdown';
      e.abort.abort(new Error('server shutting down'));
    }
    await Promise.race([all(), new Promise((r) => setTimeout(r, 5000).unref())]);
  }
}
