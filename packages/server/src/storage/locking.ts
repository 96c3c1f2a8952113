/**
 * Row locks for read-then-write transactions. PostgreSQL runs transactions side by side, so a row
 * read to decide a write is locked until the write commits; SQLite serialises writers (one
 * connection), so there the read needs no lock.
 */
import type { StorageConfig } from './database.js';

/** `read`, locking the rows it finds until the transaction ends (shared for `share`), on PostgreSQL. */
export function locking<Q extends { forUpdate(): Q; forShare(): Q }>(
  kind: StorageConfig['kind'],
  read: Q,
  mode: 'update' | 'share' = 'update',
): Q {
  if (kind !== 'postgres') return read;
  return mode === 'share' ? read.forShare() : read.forUpdate();
}
