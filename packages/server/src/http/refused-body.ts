/**
 * A body refused for its size (413) is read to its end before the connection may close. Fastify
 * answers 413 with `connection: close` as soon as it knows the body is too large, and Node then
 * closes the socket with the rest of the upload unread: the kernel answers that with a reset, and
 * a client still writing its body (fetch, the OpenAI SDK, curl after `100 Continue`) reports
 * EPIPE or ECONNRESET instead of reading the 413, and its SDK retries the whole upload. Reading
 * and discarding the rest (as nginx's lingering close does) lets the client finish and read the
 * answer; past `maxBytes` or `maxMs` the socket is cut as before, so a client cannot make the
 * server read for ever.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { clientError, type HttpError } from './errors.js';

/** How much of a refused body is read, and for how long, before the connection is cut. */
interface LingerLimits {
  maxBytes: number;
  maxMs: number;
}

/** The limits for a body limit: sixteen times the limit, ten seconds. */
const lingerLimitsFor = (bodyLimitBytes: number): LingerLimits => ({
  maxBytes: 16 * bodyLimitBytes,
  maxMs: 10_000,
});

/**
 * Called by an error handler sending a 413: keeps the connection open while the client finishes
 * its upload (read and dropped), within `limits`.
 */
function lingerOnRefusedBody(request: FastifyRequest, reply: FastifyReply, limits: LingerLimits): void {
  const raw = request.raw;
  if (raw.complete) return;
  // Without it Node keeps the connection alive and drops the rest of the body itself
  // (IncomingMessage._dump): the bounds below are what this adds.
  reply.removeHeader('connection');
  const socket = raw.socket;
  let read = 0;
  const cut = () => socket.destroy();
  const timer = setTimeout(cut, limits.maxMs);
  timer.unref();
  raw.on('data', (chunk: Buffer) => {
    read += chunk.length;
    if (read > limits.maxBytes) cut();
  });
  raw.once('close', () => clearTimeout(timer));
  raw.resume();
}

/**
 * A 4xx the framework raised (body parsing, size, content type) as the API reports it
 * (`clientError`); a body refused for its size is read to its end meanwhile (see above). Both error
 * handlers, the web API's and /v1's, answer through it.
 */
export function frameworkClientError(
  err: { statusCode?: number; code?: string; message: string },
  request: FastifyRequest,
  reply: FastifyReply,
  bodyLimitBytes: number,
): HttpError {
  const e = clientError(err, bodyLimitBytes);
  if (e.status === 413) lingerOnRefusedBody(request, reply, lingerLimitsFor(bodyLimitBytes));
  return e;
}
