/**
 * Server-sent events decoding with a memory bound. `eventsource-parser` does the SSE grammar (CR,
 * LF and CRLF line ends, comments, multi-line `data:`); Node's StringDecoder keeps multi-byte
 * UTF-8 characters split across chunks intact (a streaming TextDecoder did the same at several
 * times the cost per network read); and this class adds the bound: a line longer than
 * `maxLineBytes`, or an event whose buffered data grows past it, is an error rather than memory.
 */
import { StringDecoder } from 'node:string_decoder';
import { ProviderError } from '@understudy/engine';
import { createParser, type EventSourceParser } from 'eventsource-parser';

/** One dispatched SSE event. `event` is the `event:` field when the server sent one. */
export interface SseEvent {
  event?: string;
  data: string;
}

/** Default bound on one SSE line or event. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

/** Bytes fed to the parser at once, so the bound is checked within one huge network chunk too. */
const SLICE = 64 * 1024;
const LF = 10;
const CR = 13;

/** The bounded error: the stream is unusable from here, so the call ends as an interruption. */
function overflow(maxLineBytes: number, what: string): ProviderError {
  return new ProviderError({
    reason: 'interrupted',
    message: `provider stream ${what} exceeds ${maxLineBytes} bytes; stopped reading`,
    code: 'sse_line_too_long',
    inStream: true,
  });
}

/** Incremental SSE decoder: push bytes, get the events completed so far. */
export class SseDecoder {
  readonly maxLineBytes: number;
  #parser: EventSourceParser;
  #utf8 = new StringDecoder('utf8');
  /** Nothing decoded yet: a byte order mark here is not part of the stream (SSE spec). */
  #atStart = true;
  #ready: SseEvent[] = [];
  #lineBytes = 0;
  #eventOverflow = false;
  #failed: ProviderError | undefined;

  constructor(maxLineBytes: number = DEFAULT_MAX_LINE_BYTES) {
    this.maxLineBytes = maxLineBytes;
    this.#parser = createParser({
      onEvent: (e) =>
        this.#ready.push(e.event !== undefined ? { event: e.event, data: e.data } : { data: e.data }),
      onError: (e) => {
        // Unknown fields and bad `retry:` values are ignorable by the SSE spec; only the bound matters.
        if (e.type === 'max-buffer-size-exceeded') this.#eventOverflow = true;
      },
      // Counted in UTF-16 units, so buffered event text stays within about 2 × maxLineBytes of memory.
      maxBufferSize: maxLineBytes,
    });
  }

  /** The bounded error once the decoder has overflowed, else undefined. */
  get failure(): ProviderError | undefined {
    return this.#failed;
  }

  /** Bytes of the current unterminated line: never more than `maxLineBytes`. */
  get pendingLineBytes(): number {
    return this.#lineBytes;
  }

  /**
   * Feeds raw bytes; returns the events they complete. On overflow it stops at once and throws the
   * bounded error — after first returning any events completed before the overflow, so text that
   * really arrived is not lost (the next call throws).
   */
  push(bytes: Uint8Array): SseEvent[] {
    if (this.#failed) throw this.#failed;
    for (let off = 0; off < bytes.length && !this.#failed; off += SLICE) {
      const slice = bytes.subarray(off, off + SLICE);
      const safe = this.#safeLength(slice);
      // Bytes before the overflow still hold whole events that really arrived: decode them.
      this.#feed(this.#utf8.write(slice.subarray(0, safe)));
      if (safe < slice.length) this.#fail('line');
    }
    if (this.#failed && this.#ready.length === 0) throw this.#failed;
    return this.#take();
  }

  /**
   * Ends the stream: flushes a final partial UTF-8 sequence and dispatches a last event that the
   * server did not close with a blank line (common, and the only way a CR-ended stream's final
   * line is recognised). A truncated final line therefore still reaches the adapter, which
   * reports it as malformed rather than silently dropping it.
   */
  end(): SseEvent[] {
    if (this.#failed) throw this.#failed;
    this.#feed(`${this.#utf8.end()}\n\n`);
    if (this.#failed && this.#ready.length === 0) throw this.#failed;
    return this.#take();
  }

  /**
   * Tracks the unterminated line's length through `slice`; returns how many of its bytes fit
   * before a line would pass the bound (all of them when none does). Jumps from line end to line
   * end with the native indexOf: a byte-by-byte loop here was most of the decoder's CPU.
   */
  #safeLength(slice: Uint8Array): number {
    const max = this.maxLineBytes;
    let run = this.#lineBytes;
    let pos = 0;
    let lf = slice.indexOf(LF);
    let cr = slice.indexOf(CR);
    while (pos < slice.length) {
      if (lf !== -1 && lf < pos) lf = slice.indexOf(LF, pos);
      if (cr !== -1 && cr < pos) cr = slice.indexOf(CR, pos);
      const brk = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      // Bytes [pos, end) continue the current line; the byte that would make it max + 1 long is
      // the first one that does not fit.
      const end = brk === -1 ? slice.length : brk;
      if (run + (end - pos) > max) return pos + (max - run);
      if (brk === -1) {
        run += end - pos;
        break;
      }
      run = 0;
      pos = brk + 1;
    }
    this.#lineBytes = run;
    return slice.length;
  }

  #feed(text: string): void {
    if (text === '') return;
    if (this.#atStart) {
      this.#atStart = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.#parser.feed(text);
    if (this.#eventOverflow) this.#fail('event');
  }

  /** Enters the failed state and drops everything buffered. */
  #fail(what: string): void {
    this.#lineBytes = 0;
    this.#parser.reset();
    this.#failed = overflow(this.maxLineBytes, what);
  }

  #take(): SseEvent[] {
    const out = this.#ready;
    this.#ready = [];
    return out;
  }
}

/** Decodes a byte stream into SSE events, enforcing the bound. */
export async function* decodeSse(
  chunks: AsyncIterable<Uint8Array>,
  maxLineBytes: number = DEFAULT_MAX_LINE_BYTES,
): AsyncGenerator<SseEvent, void, undefined> {
  const decoder = new SseDecoder(maxLineBytes);
  for await (const chunk of chunks) for (const ev of decoder.push(chunk)) yield ev;
  for (const ev of decoder.end()) yield ev;
  if (decoder.failure) throw decoder.failure;
}
