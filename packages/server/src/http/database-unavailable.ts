/**
 * A request that failed because the database cannot be reached right now (PostgreSQL down or
 * restarting, its network cut): a 503 with `retry-after`, which clients and load balancers retry,
 * not a 500 that reads as a bug. Each surface wraps it in its own error shape.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '../storage/index.js';
import { HttpError } from './errors.js';

/** Seconds a client should wait before retrying while the database is unavailable. */
const DATABASE_RETRY_AFTER_S = 5;

/**
 * When `err` means the database is unavailable: logs it (a line per request while it lasts, without
 * a stack: the cause is known), sets `retry-after` on `reply` and returns the 503 to answer in the
 * surface's shape; undefined for any other error. Both error handlers, the web API's and /v1's,
 * answer through it.
 */
export function databaseUnavailable(
  err: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): HttpError | undefined {
  if (!isDatabaseUnavailable(err)) return undefined;
  request.log.warn({ error: (err as Error).message }, 'request failed: the database is unavailable');
  reply.header('retry-after', String(DATABASE_RETRY_AFTER_S));
  return new HttpError(503, 'database_unavailable', 'the database is unavailable right now; retry shortly');
}
