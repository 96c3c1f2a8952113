/**
 * Row locks for the chat's writers. The order (PostgreSQL): a Mate before its conversations, a
 * conversation before its messages, in every transaction that writes them. Taken in another order,
 * two writers (say a delete, and the save of an answer that started meanwhile) can each hold a
 * row the other waits for, and PostgreSQL ends one of them as a deadlock. SQLite serialises
 * writers, so there the reads need no lock.
 */
import type { StorageConfig } from '../storage/index.js';

/** `read`, locking the rows it finds until the transaction ends (shared for `share`), on PostgreSQL. */
export function locking<Q extends { forUpdate(): Q; forShare(): Q }>(
  kind: StorageConfig['kind'],
  read: Q,
  mode: 'update' | 'share' = 'update',
): Q {
  if (kind !== 'postgres') return read;
  return mode === 'share' ? read.forShare() : read.forUpdate();
}
