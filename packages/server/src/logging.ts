/**
 * The process logger: JSON lines through pino, with secrets redacted by path and request URLs
 * stripped of the tokens they may carry (invitation and setup links, keys in the query).
 */
import pino, { type DestinationStream, type Logger } from 'pino';

/** Paths whose values must never reach a log. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.apiKey',
  '*.key',
  '*.token',
  '*.csrfToken',
];

/** How often lines held for a stdout nobody reads are offered to it again. */
export const LOG_RETRY_MS = 100;
/** How much of the log a stalled stdout may hold in memory; lines past it are dropped, and counted. */
export const LOG_HELD_BYTES = 8 * 1024 * 1024;

let droppedInProcess = 0;

/** Log lines this process dropped because its stdout was not read, since it started (a metric). */
export function logLinesDropped(): number {
  return droppedInProcess;
}

/** pino's writer to a file descriptor (sonic-boom), with its 'write', 'drop' and 'error' events. */
export type LogDestination = ReturnType<typeof pino.destination>;

/** Lines a stalled stdout made the log drop, told once it reads again. */
export interface LogStall {
  dropped: number;
  /** From the first line dropped to the first written again. */
  ms: number;
}

/**
 * JSON lines to a file descriptor (stdout), written as they come, that never stall the server.
 * pino's default writer (asynchronous) held every line in memory while stdout was not read, without
 * bound, and at exit flushed them synchronously, sleeping and retrying for as long as the pipe
 * stayed full: a reader that stopped reading (a stuck log shipper, a supervisor gone) left a
 * stopped server that never exited (seen: blocked in Atomics.wait after "Understudy stopped").
 * Here each line is written at once; a full pipe makes the writer hold lines, in order, up to
 * LOG_HELD_BYTES, and offer them again every LOG_RETRY_MS and with each new line. Lines past the
 * bound are dropped and counted, and `onResume` tells how many once the reader is back. What is
 * still held at exit is lost: the exit does not wait on a reader that may never come back.
 */
export function stdoutDestination(fd = 1, onResume: (stall: LogStall) => void = () => {}): LogDestination {
  let dropped = 0;
  let droppingSince = 0;
  let retry: NodeJS.Timeout | undefined;
  const dest: LogDestination = pino.destination({
    fd,
    sync: true,
    maxLength: LOG_HELD_BYTES,
    // Called on EAGAIN: false leaves the line held (an 'error' below) instead of sleeping on it.
    retryEAGAIN: () => false,
  });
  dest.on('drop', () => {
    droppedInProcess++;
    if (dropped++ === 0) droppingSince = Date.now();
  });
  dest.on('write', () => {
    if (dropped === 0) return;
    const stall = { dropped, ms: Date.now() - droppingSince };
    dropped = 0;
    // Not from inside the writer's own callback: the report is itself a log line.
    setImmediate(() => onResume(stall));
  });
  // Nowhere else to report a failed log write. On EAGAIN, what is held is offered again soon,
  // even if no new line comes to carry it (a write of nothing writes what is held).
  dest.on('error', (err: NodeJS.ErrnoException) => {
    if ((err.code !== 'EAGAIN' && err.code !== 'EBUSY') || retry !== undefined) return;
    retry = setTimeout(() => {
      retry = undefined;
      try {
        dest.write('');
      } catch {
        // Closed meanwhile (the process is ending): nothing left to write to.
      }
    }, LOG_RETRY_MS).unref();
  });
  return dest;
}

/** The process logger: JSON lines, secrets redacted; by default on stdout (stdoutDestination). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const log: Logger = pino(
    {
      level,
      redact: { paths: REDACT, censor: '[redacted]' },
      // Request logs carry method, a URL with tokens removed and the peer; never headers or bodies.
      serializers: {
        req: (req: { method?: string; url?: string; ip?: string }) => ({
          method: req.method,
          url: safeUrl(req.url ?? ''),
          remoteAddress: req.ip,
        }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
        err: pino.stdSerializers.err,
      },
    },
    destination ??
      stdoutDestination(1, ({ dropped, ms }) =>
        log.warn(
          { event: 'log_lines_dropped', droppedLines: dropped, stalledMs: ms },
          `${dropped} log lines were dropped over ${Math.round(ms / 1000)} s: stdout was not read`,
        ),
      ),
  );
  return log;
}

/** A URL with invitation tokens and token-like query values removed. */
export function safeUrl(url: string): string {
  return (
    url
      // The invitation link (acceptUrl): the web app takes everything after /invite/ as the token.
      .replace(/\/invite\/[^?#]+/gi, '/invite/[redacted]')
      // What that page then reads; `accept` is the route that takes the token in its body.
      .replace(/\/api\/invitations\/(?!accept(?:[/?#]|$))[^/?#]+/gi, '/api/invitations/[redacted]')
      // The setup link (`/setup?token=…`) and any other token or key given in the query.
      .replace(/([?&](token|key)=)[^&#]*/gi, '$1[redacted]')
  );
}
