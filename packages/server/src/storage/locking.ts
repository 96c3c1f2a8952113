/**
 * Row locks for read-then-write transactions. PostgreSQL runs transactions side by side, so a row
 * read to decide a write is locked until the write commits; SQLite serialises writers (one
 * connection), so there the read needs no lock.
 */
import type { StorageConfig } from './database.js';

/**
 * `read`, locking the rows it finds until the transaction ends, on PostgreSQL: `update` against
 * every other writer; `share` against writers only; `no-key-update` like `update` but letting
 * rows that reference it be inserted meanwhile (their foreign-key checks).
 */
export function locking<Q extends { forUpdate(): Q; forShare(): Q; forNoKeyUpdate(): Q }>(
  kind: StorageConfig['kind'],
  read: Q,
  mode: 'update' | 'share' | 'no-key-update' = 'update',
): Q {
  if (kind !== 'postgres') return read;
  if (mode === 'share') return read.forShare();
  return mode === 'no-key-update' ? read.forNoKeyUpdate() : read.forUpdate();
}
