/**
 * Fallback activity written behind the answer: with a dead primary every answer is a fallback, and
 * a single-row INSERT awaited before each reply halved throughput. Rows are buffered and written in
 * one multi-row INSERT every `flushMs` or once `batchSize` are pending; the activity view flushes
 * before it reads, and graceful shutdown flushes what is left. A crash loses at most `flushMs` of
 * events; a database outage keeps the newest `maxPending` and counts the rest as dropped.
 */
import type { AnswerResult } from '@understudy/engine';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { newId, nowIso, type Database, type FallbackEventsTable } from '../storage/index.js';

/** A finished answer as the activity view records it. */
export interface FallbackEvent {
  orgId: string;
  surface: 'chat' | 'api';
  mateId?: string | null;
  messageId?: string | null;
  result: AnswerResult;
}

/** The fallback_events row of a finished answer, or undefined when it had no fallback. */
export function fallbackRow(e: FallbackEvent): FallbackEventsTable | undefined {
  const f = e.result.fallback;
  if (!f) return undefined;
  const at = nowIso();
  return {
    id: newId(),
    org_id: e.orgId,
    at,
    day: at.slice(0, 10),
    surface: e.surface,
    mate_id: e.mateId ?? null,
    message_id: e.messageId ?? null,
    original_model_id: f.originalModelId,
    original_provider_id: f.originalProviderId,
    reason: f.reason,
    backup_model_id: f.backupModelId,
    backup_provider_id: f.backupProviderId,
    latency_ms: Math.round(e.result.latencyMs),
    outcome:
      e.result.status === 'complete' ? 'complete' : e.result.status === 'cancelled' ? 'cancelled' : 'failed',
  };
}

/** The longest wait between retries while the database refuses writes. */
const MAX_RETRY_MS = 5_000;

/** Buffers fallback events and writes them in batches. */
export class FallbackRecorder {
  private pending: FallbackEventsTable[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Writes run one after another, so a flush that returns has written everything recorded before it. */
  private chain: Promise<void> = Promise.resolve();
  /** A write chained but not started yet: further flushes join it instead of queueing more. */
  private queued: Promise<void> | undefined;
  private failures = 0;
  private droppedTotal = 0;
  private droppedUnreported = 0;
  private closed = false;
  private readonly flushMs: number;
  private readonly batchSize: number;
  private readonly maxPending: number;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly log: Logger,
    opts: { flushMs?: number; batchSize?: number; maxPending?: number } = {},
  ) {
    this.flushMs = opts.flushMs ?? 200;
    this.batchSize = opts.batchSize ?? 200;
    this.maxPending = opts.maxPending ?? 10_000;
  }

  /** Events waiting to be written. */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Events dropped since start because the buffer was full (the database refused writes too long). */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** Buffers the fallback of a finished answer, if it had one; never waits and never throws. */
  record(e: FallbackEvent): void {
    const row = fallbackRow(e);
    if (!row) return;
    if (this.closed) {
      // Storage is closing or closed: nothing can write it any more.
      this.drop(1);
      this.log.warn({ dropped: 1 }, 'fallback event recorded after shutdown was dropped');
      return;
    }
    this.pending.push(row);
    if (this.pending.length > this.maxPending) this.drop(this.pending.splice(0, 1).length);
    // While the database refuses writes, retries keep their backoff instead of following the traffic.
    if (this.pending.length >= this.batchSize && this.failures === 0) void this.flush();
    else this.schedule(this.flushMs);
  }

  /** Writes everything recorded so far; resolves once it is committed (or the attempt failed and was logged). */
  flush(): Promise<void> {
    if (!this.queued) {
      const next = this.chain.then(() => {
        this.queued = undefined;
        return this.write();
      });
      this.queued = next;
      this.chain = next;
    }
    return this.queued;
  }

  /** Graceful shutdown: writes what is pending; later records are dropped with a warning. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length > 0) {
      this.log.error({ lost: this.pending.length }, 'fallback events could not be written before shutdown');
      this.drop(this.pending.splice(0).length);
    }
  }

  private schedule(ms: number): void {
    if (this.timer || this.closed) return;
    // Unref'd: a pending write must not keep a stopping process alive (close() writes it).
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms).unref();
  }

  private drop(n: number): void {
    this.droppedTotal += n;
    this.droppedUnreported += n;
  }

  private async write(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.droppedUnreported > 0) {
      this.log.warn(
        { dropped: this.droppedUnreported, droppedTotal: this.droppedTotal },
        'fallback activity buffer full: the oldest events were dropped',
      );
      this.droppedUnreported = 0;
    }
    const batch = this.pending.splice(0);
    if (batch.length === 0) return;
    try {
      // A retry after an ambiguous failure (committed, then the connection broke) must not fail on
      // the rows it already wrote: ids are fixed at record time, so duplicates are skipped.
      const insert = (db: Kysely<Database>, rows: FallbackEventsTable[]) =>
        db
          .insertInto('fallback_events')
          .values(rows)
          .onConflict((oc) => oc.column('id').doNothing())
          .execute();
      if (batch.length <= this.batchSize) await insert(this.db, batch);
      else {
        // A backlog after an outage: statements of `batchSize` rows stay below the parameter limits.
        await this.db.transaction().execute(async (trx) => {
          for (let i = 0; i < batch.length; i += this.batchSize)
            await insert(trx, batch.slice(i, i + this.batchSize));
        });
      }
      this.failures = 0;
    } catch (err) {
      this.failures++;
      this.pending = batch.concat(this.pending);
      const over = this.pending.length - this.maxPending;
      if (over > 0) this.drop(this.pending.splice(0, over).length);
      this.log.error(
        { err, pending: this.pending.length, failures: this.failures },
        'writing fallback activity failed; retrying',
      );
    }
    if (this.pending.length > 0) this.schedule(Math.min(this.flushMs * 2 ** this.failures, MAX_RETRY_MS));
  }
}
