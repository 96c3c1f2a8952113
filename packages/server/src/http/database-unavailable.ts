/**
 * A request that failed because the database cannot be reached right now (PostgreSQL down or
 * restarting, its network cut): a 503 with `retry-after`, which clients and load balancers retry,
 * not a 500 that reads as a bug. Each surface wraps it in its own error shape.
 */
import { isDatabaseUnavailable } from '../storage/index.js';

/** Seconds a client should wait before retrying while the database is unavailable. */
export const DATABASE_RETRY_AFTER_S = 5;

/** The refusal for a request the database could not serve. */
export interface DatabaseUnavailable {
  status: 503;
  code: 'database_unavailable';
  message: string;
  retryAfterS: number;
}

/** The refusal when `err` means the database is unavailable; undefined for any other error. */
export function databaseUnavailable(err: unknown): DatabaseUnavailable | undefined {
  if (!isDatabaseUnavailable(err)) return undefined;
  return {
    status: 503,
    code: 'database_unavailable',
    message: 'the database is unavailable right now; retry shortly',
    retryAfterS: DATABASE_RETRY_AFTER_S,
  };
}
