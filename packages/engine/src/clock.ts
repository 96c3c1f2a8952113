/** Time, behind an interface so the engine has no timers of its own and tests can control it. */
import type { CancelSignal } from './cancel.js';

/** A restartable one-shot timer. */
export interface Timer {
  /** Starts the countdown again with `ms` (defaults to the last duration). */
  reset(ms?: number): void;
  cancel(): void;
}

/** The engine's only source of time. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason if it aborts first. */
  sleep(ms: number, signal?: CancelSignal): Promise<void>;
  /** Calls `fn` once after `ms` unless cancelled or reset first. */
  timer(ms: number, fn: () => void): Timer;
}

/** The wall clock and real timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal?.reason);
      };
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
  timer: (ms, fn) => new NodeTimer(ms, fn),
};

/** A timer over one Node handle; `refresh()` re-arms it, cheaper than a new timer per streamed chunk. */
class NodeTimer implements Timer {
  private handle: ReturnType<typeof setTimeout>;
  constructor(
    private ms: number,
    private readonly fn: () => void,
  ) {
    this.handle = setTimeout(fn, ms);
  }
  reset(ms?: number): void {
    if (ms === undefined || ms === this.ms) {
      this.handle.refresh();
      return;
    }
    this.ms = ms;
    clearTimeout(this.handle);
    this.handle = setTimeout(this.fn, ms);
  }
  cancel(): void {
    clearTimeout(this.handle);
  }
}
