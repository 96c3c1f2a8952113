/**
 * A response body fed by undici's dispatch handler: a small byte queue with backpressure, read as
 * an async iterable. Hand-made rather than `request()`'s stream.Readable because every answer's
 * body crosses it: the Readable, its async iterator and its drain (`dump`) were measured at
 * 10-25 µs of CPU per answer (of ~450 µs the gateway spends), and its errors needed a no-op
 * listener so that a body nobody reads any more could not crash the process. Here a failure is
 * only ever thrown to a reader that asks for the next chunk.
 */
import type { Dispatcher } from 'undici';

/** Bytes held unread before the upstream socket is paused: the reader is slower than the provider. */
export const HIGH_WATER_BYTES = 64 * 1024;

/** A drain in progress: the rest of a finished answer is read and dropped so the socket can be reused. */
interface Drain {
  limit: number;
  seen: number;
  timer: ReturnType<typeof setTimeout>;
}

/** The body of one upstream response. Iterating it does not consume it: `release` decides its end. */
export class ResponseBody implements AsyncIterable<Uint8Array> {
  #ctl: Dispatcher.DispatchController | undefined;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #paused = false;
  #ended = false;
  #destroyed = false;
  /** Thrown to the reader: the transport's failure, or the reason the body was destroyed. */
  #error: Error | undefined;
  /** The reason to abort with once the request has a controller (destroyed before it had one). */
  #abortReason: Error | undefined;
  #wake: (() => void) | undefined;
  #drain: Drain | undefined;
  #onClose: (() => void) | undefined;

  /** `onClose` runs once, when the body ends, fails or is destroyed. */
  constructor(onClose?: () => void) {
    this.#onClose = onClose;
  }

  /** True once every byte of the response has arrived. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Bytes arrived and not yet read. */
  get queuedBytes(): number {
    return this.#queued;
  }

  /** True once destroyed: its request is aborted (the socket closed) unless it had ended. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Handler side: the request reached a socket; this controller pauses, resumes and aborts it. */
  attach(ctl: Dispatcher.DispatchController): void {
    this.#ctl = ctl;
    if (this.#abortReason) ctl.abort(this.#abortReason);
  }

  /** Handler side: bytes arrived. */
  push(chunk: Uint8Array): void {
    if (this.#destroyed) return;
    const drain = this.#drain;
    if (drain) {
      drain.seen += chunk.byteLength;
      if (drain.seen > drain.limit) this.destroy();
      return;
    }
    this.#queue.push(chunk);
    this.#queued += chunk.byteLength;
    if (this.#queued >= HIGH_WATER_BYTES && !this.#paused) {
      this.#paused = true;
      this.#ctl?.pause();
    }
    this.#notify();
  }

  /** Handler side: the response is complete. */
  end(): void {
    if (this.#destroyed || this.#ended) return;
    this.#ended = true;
    this.#finishDrain();
    this.#close();
    this.#notify();
  }

  /**
   * Handler side: the transport failed (reset, abort, parse error). Bytes that arrived before the
   * failure are still read first: text the provider really sent is not lost to a broken socket.
   */
  fail(err: Error): void {
    if (this.#destroyed || this.#ended) return;
    this.#error ??= err;
    this.#destroyed = true;
    this.#finishDrain();
    this.#close();
    this.#notify();
  }

  /**
   * Stops the body: drops what is queued and, unless the response had ended, aborts the request,
   * which closes its socket. A reader waiting for the next chunk gets `reason` (or a premature-close
   * error).
   */
  destroy(reason?: Error): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#queue = [];
    this.#queued = 0;
    this.#finishDrain();
    if (!this.#ended) {
      const why = reason ?? new Error('response body destroyed before its end');
      this.#error ??= why;
      if (this.#ctl) this.#ctl.abort(why);
      else this.#abortReason = why;
    }
    this.#close();
    this.#notify();
  }

  /**
   * Reads the rest of a body nobody needs (a stream that stopped at its terminator) and drops it,
   * so the keep-alive socket returns to the pool; gives the socket up instead after `limit` bytes
   * or `ms` milliseconds. Nothing to do, and no timer, for a body that has already ended.
   */
  drain(limit: number, ms: number): void {
    if (this.#destroyed || this.#ended || this.#drain) return;
    const timer = setTimeout(() => this.destroy(), ms);
    timer.unref();
    let seen = 0;
    for (const c of this.#queue) seen += c.byteLength;
    this.#queue = [];
    this.#queued = 0;
    this.#drain = { limit, seen, timer };
    if (seen > limit) return this.destroy();
    this.#resume();
  }

  /** Chunks as they arrive. Stopping early (`break`, `return()`) leaves the body as it is. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => this.#next(),
      return: () => Promise.resolve({ value: undefined, done: true }),
    };
  }

  async #next(): Promise<IteratorResult<Uint8Array>> {
    for (;;) {
      const chunk = this.#queue.shift();
      if (chunk !== undefined) {
        this.#queued -= chunk.byteLength;
        if (this.#queued < HIGH_WATER_BYTES) this.#resume();
        return { value: chunk, done: false };
      }
      if (this.#error) throw this.#error;
      if (this.#ended || this.#destroyed || this.#drain) return { value: undefined, done: true };
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#ctl?.resume();
  }

  #notify(): void {
    const wake = this.#wake;
    if (wake) {
      this.#wake = undefined;
      wake();
    }
  }

  #finishDrain(): void {
    if (this.#drain) clearTimeout(this.#drain.timer);
  }

  #close(): void {
    const f = this.#onClose;
    this.#onClose = undefined;
    f?.();
  }
}
