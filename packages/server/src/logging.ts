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

/** The process logger: JSON lines, secrets redacted. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
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
    destination ?? pino.destination(1),
  );
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
