/**
 * A transparent HTTP relay in front of the real simulator that keeps every request it passes on:
 * the simulator's attempt log records what it answered, not the messages or the key it was sent.
 */
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the relay passed on, as sent on the wire. */
export interface RelayedRequest {
  method: string;
  path: string;
  /** The bearer key of the Authorization header ('' when none). */
  key: string;
  body: string;
}

/** Starts a relay to `target` (an origin) on a free loopback port. */
export async function startRelay(
  target: string,
): Promise<{ url: string; seen: RelayedRequest[]; close(): Promise<void> }> {
  const to = new URL(target);
  const seen: RelayedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({
        method: req.method ?? '',
        path: req.url ?? '',
        key: (req.headers.authorization ?? '').replace(/^Bearer\s*/, ''),
        body: body.toString('utf8'),
      });
      const up = httpRequest(
        {
          host: to.hostname,
          port: to.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: to.host },
        },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      res.on('close', () => up.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
