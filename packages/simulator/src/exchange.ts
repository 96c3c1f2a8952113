/**
 * One request/response on a protocol endpoint: writes through to the socket while tracking the
 * attempt record, and notices promptly when the client goes away so every timer and write stops.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { AttemptRecord } from './types.js';

/** How long a cut waits for already-written bytes to leave before destroying the socket. */
const FLUSH_LIMIT_MS = 1000;

/** A response in progress. */
export class Exchange {
  private readonly controller = new AbortController();
  private selfClosed = false;
  private shuttingDown = false;
  /** True once the response is over, whoever ended it. */
  closed = false;

  constructor(
    private readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly record: AttemptRecord,
    onClosed: (x: Exchange) => void,
  ) {
    res.on('error', () => undefined);
    req.on('error', () => undefined);
    res.on('close', () => {
      this.closed = true;
      const unfinished = !res.writableFinished && !this.selfClosed;
      if (unfinished && !this.shuttingDown) record.clientAborted = true;
      record.endedAt ??= Date.now();
      if (record.outcome === 'open') {
        if (unfinished) record.outcome = 'aborted';
        else record.outcome = record.fault === undefined ? 'ok' : 'fault';
      }
      this.controller.abort();
      onClosed(this);
    });
  }

  /** Aborts when the response is over: client gone, response ended, or simulator closing. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Sends the status line and headers now, so clients see them before any content. */
  writeHead(status: number, headers: Record<string, string>): void {
    if (this.closed) return;
    this.res.writeHead(status, { ...headers, 'x-sim-attempt': String(this.record.seq) });
    this.res.flushHeaders();
    this.record.status = status;
    this.record.headersAt = Date.now();
  }

  /** Writes a frame ('' is a no-op). */
  write(frame: string): void {
    if (frame === '' || this.closed) return;
    this.res.write(frame);
  }

  /** True while the client has not taken what was written (wait for {@link drained}). */
  get behind(): boolean {
    return !this.closed && this.res.writableNeedDrain;
  }

  /**
   * Resolves once the client has taken what was written (true) or the response is over (false). A
   * real provider's server cannot push an answer faster than its client reads either, so a gateway
   * that stops reading holds the rest of the answer back here.
   */
  drained(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (!this.behind) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        this.res.off('drain', onDrain);
        this.signal.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      const onDrain = () => done(true);
      const onAbort = () => done(false);
      this.res.on('drain', onDrain);
      this.signal.addEventListener('abort', onAbort);
    });
  }

  /** Counts one content token as sent. */
  token(): void {
    this.record.tokensSent += 1;
    this.record.firstTokenAt ??= Date.now();
  }

  /** Ends the response cleanly. */
  end(frame = ''): void {
    if (this.closed) return;
    this.res.end(frame);
  }

  /** Sends TCP RST before any response byte (ECONNRESET at the client). */
  reset(): void {
    this.selfClosed = true;
    const socket: Socket = this.req.socket;
    if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else socket.destroy();
  }

  /** Closes the connection abruptly after what was written so far has left. */
  async cut(): Promise<void> {
    this.selfClosed = true;
    const socket: Socket = this.req.socket;
    // An empty write completes only after everything queued before it (http corks the socket
    // within a tick), so the client receives the tokens sent before the cut.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, FLUSH_LIMIT_MS);
      socket.write('', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    socket.destroy();
  }

  /** Ends a hung or streaming response because the simulator is closing. */
  shutdown(): void {
    this.shuttingDown = true;
    this.req.socket.destroy();
  }
}
