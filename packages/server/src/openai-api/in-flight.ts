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
}

/** The registry of API answers in flight. */
export class ApiAnswers {
  private readonly entries = new Set<Entry>();
  /** Told when the last answer ends: only a stop waits, so no answer pays for a promise of its own. */
  private drained: (() => void)[] = [];
  /** Answers begun since this registry exists (the drain counts those begun during it). */
  private begun = 0;

  /** Answers in flight. */
  get size(): number {
    return this.entries.size;
  }

  /** Tracks a new answer until its `end()`. */
  begin(): ApiAnswer {
    const entry: Entry = { abort: new Cancellation() };
    this.entries.add(entry);
    this.begun++;
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
        if (!this.entries.delete(entry) || this.entries.size > 0) return;
        for (const tell of this.drained.splice(0)) tell();
      },
    };
  }

  /**
   * Graceful shutdown: waits up to `graceMs` for the answers in flight, then cancels the rest and
   * waits (briefly) until they have told their clients. Says how many there were and how many were cut.
   */
  async shutdown(graceMs: number): Promise<{ inFlight: number; finished: number; cut: number }> {
    const inFlight = this.entries.size;
    const begunBefore = this.begun;
    const all = () =>
      this.entries.size === 0 ? Promise.resolve() : new Promise<void>((r) => this.drained.push(r));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all(), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    const cut = this.entries.size;
    for (const e of this.entries) {
      e.cancelledBy ??= 'shutdown';
      e.abort.abort(new Error('server shutting down'));
    }
    await Promise.race([all(), new Promise((r) => setTimeout(r, 5000).unref())]);
    const seen = inFlight + this.begun - begunBefore;
    return { inFlight: seen, finished: seen - cut, cut };
  }
}
