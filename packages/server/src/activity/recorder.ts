/**
 * Fallback activity written behind the answer: with a dead primary every answer is a fallback, and
 * a single-row INSERT awaited before each reply halved throughput. Rows are buffered and written in
 * one multi-row INSERT every `flushMs` or once `batchSize` rows are pending; the activity view
 * flushes before it reads, and graceful shutdown flushes what is left. A crash loses at most
 * `flushMs` of events; a database outage keeps the newest `maxPending` rows and counts the answers
 * of the rest as dropped.
 *
 * Identical API fallbacks (same organization, surface, Mate, original model and provider, reason,
 * backup model and provider, and outcome, with no message) recorded within one write window are
 * coalesced into one row that counts them, with the first and last time and the mean and max
 * latency: an hour-long outage at thousands of answers per second writes a few rows per window, not
 * a row per answer. Chat answers keep a row each (each points at its stored message). Recording a
 * coalesced answer is a map lookup and a few additions: the id and the timestamps are made once per
 * row, when it is created and when it is written.
 */
import { isFallbackReason, type AnswerResult, type FallbackRecord } from '@understudy/engine';
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

type Outcome = FallbackEventsTable['outcome'];

const outcomeOf = (r: AnswerResult): Outcome =>
  r.status === 'complete' ? 'complete' : r.status === 'cancelled' ? 'cancelled' : 'failed';

const DAY_MS = 86_400_000;

/** One pending row: a single answer, or identical API answers of one window coalesced. */
interface Group {
  /** The row as written: set on the first write attempt, after which the group never changes. */
  row: FallbackEventsTable | undefined;
  /** Its key in `open` while answers may still join it; undefined for chat answers. */
  key: string | undefined;
  /** Everything but the aggregates, with the id and first time fixed at creation. */
  base: Omit<FallbackEventsTable, 'at' | 'latency_ms' | 'count' | 'latency_max_ms'>;
  /** The next UTC midnight: an answer after it starts a new row, so counts per day stay exact. */
  dayEndMs: number;
  lastMs: number;
  count: number;
  latencySum: number;
  latencyMax: number;
}

/** What an activity row says of a fallback: the two models and providers, and why. */
type FallbackFacts = Pick<
  FallbackRecord,
  'originalModelId' | 'originalProviderId' | 'reason' | 'backupModelId' | 'backupProviderId'
>;

/**
 * The fallback an answer needed, if any: the takeover record when the backup's answer was shown,
 * and otherwise the backup that was tried and failed too (or was known to be down). A double
 * outage is the event an admin most needs to see, though no takeover reached the member.
 */
function fallbackOf(r: AnswerResult): FallbackFacts | undefined {
  if (r.fallback) return r.fallback;
  const err = r.error;
  if (!err?.backup || !isFallbackReason(err.reason)) return undefined;
  return {
    originalModelId: err.primary.modelId,
    originalProviderId: err.primary.providerId,
    reason: err.reason,
    backupModelId: err.backup.modelId,
    backupProviderId: err.backup.providerId,
  };
}

/** The row of a group, fixed from its first write attempt on (a retry writes the same id and values). */
function rowOf(g: Group): FallbackEventsTable {
  if (!g.row) {
    const at = g.count === 1 ? (g.base.first_at ?? nowIso()) : new Date(g.lastMs).toISOString();
    g.row = {
      ...g.base,
      at,
      latency_ms: Math.round(g.latencySum / g.count),
      latency_max_ms: Math.round(g.latencyMax),
      count: g.count,
    };
  }
  return g.row;
}

/** The longest wait between retries while the database refuses writes. */
const MAX_RETRY_MS = 5_000;

/** Buffers fallback events, coalescing identical API ones, and writes them in batches. */
export class FallbackRecorder {
  /** Rows waiting to be written, oldest first. */
  private pending: Group[] = [];
  /** The rows of the current window that identical API answers still join, by their key. */
  private readonly open = new Map<string, Group>();
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
  private readonly clock: () => number;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly log: Logger,
    opts: { flushMs?: number; batchSize?: number; maxPending?: number; clock?: () => number } = {},
  ) {
    this.flushMs = opts.flushMs ?? 200;
    this.batchSize = opts.batchSize ?? 200;
    this.maxPending = opts.maxPending ?? 10_000;
    // Epoch milliseconds of an answer's end (tests move it across a UTC midnight).
    this.clock = opts.clock ?? Date.now;
  }

  /** Rows waiting to be written (a coalesced row counts once). */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Answers waiting to be written (the sum of the pending rows' counts). */
  get pendingAnswers(): number {
    let n = 0;
    for (const g of this.pending) n += g.count;
    return n;
  }

  /** Answers dropped since start because the buffer was full (the database refused writes too long). */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** Buffers the fallback of a finished answer, if it had one; never waits and never throws. */
  record(e: FallbackEvent): void {
    const f = fallbackOf(e.result);
    if (!f) return;
    if (this.closed) {
      // Storage is closing or closed: nothing can write it any more.
      this.drop(1);
      this.log.warn({ dropped: 1 }, 'fallback event recorded after shutdown was dropped');
      return;
    }
    const now = this.clock();
    const latency = e.result.latencyMs;
    const outcome = outcomeOf(e.result);
    const mateId = e.mateId ?? null;
    let key: string | undefined;
    if (e.messageId == null) {
      key = `${e.orgId}\0${e.surface}\0${mateId ?? ''}\0${f.originalModelId}\0${f.originalProviderId}\0${f.reason}\0${f.backupModelId}\0${f.backupProviderId}\0${outcome}`;
      const g = this.open.get(key);
      if (g && now < g.dayEndMs) {
        // Pending since its creation, which scheduled its write: nothing else to do.
        g.count++;
        if (now > g.lastMs) g.lastMs = now;
        g.latencySum += latency;
        if (latency > g.latencyMax) g.latencyMax = latency;
        return;
      }
    }
    const firstAt = new Date(now).toISOString();
    const g: Group = {
      row: undefined,
      key,
      base: {
        id: newId(),
        org_id: e.orgId,
        first_at: firstAt,
        day: firstAt.slice(0, 10),
        surface: e.surface,
        mate_id: mateId,
        message_id: e.messageId ?? null,
        original_model_id: f.originalModelId,
        original_provider_id: f.originalProviderId,
        reason: f.reason,
        backup_model_id: f.backupModelId,
        backup_provider_id: f.backupProviderId,
        outcome,
      },
      dayEndMs: now - (now % DAY_MS) + DAY_MS,
      lastMs: now,
      count: 1,
      latencySum: latency,
      latencyMax: latency,
    };
    this.pending.push(g);
    // A row of the previous day stays pending but takes no more answers.
    if (key !== undefined) this.open.set(key, g);
    if (this.pending.length > this.maxPending) this.dropOldest(1);
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
      this.log.error(
        { lost: this.pendingAnswers, rows: this.pending.length },
        'fallback events could not be written before shutdown',
      );
      this.dropOldest(this.pending.length);
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

  /** Drops the `n` oldest pending rows, counting their answers. */
  private dropOldest(n: number): void {
    let answers = 0;
    for (const g of this.pending.splice(0, n)) {
      answers += g.count;
      if (g.key !== undefined && this.open.get(g.key) === g) this.open.delete(g.key);
    }
    this.drop(answers);
  }

  /** The log line of a fallback row: ids, reason and counts; never the message or a key. */
  private logFallback(r: FallbackEventsTable): void {
    this.log.info(
      {
        event: 'fallback',
        org: r.org_id,
        surface: r.surface,
        ...(r.mate_id !== null && { mateId: r.mate_id }),
        ...(r.message_id !== null && { messageId: r.message_id }),
        model: r.original_model_id,
        provider: r.original_provider_id,
        reason: r.reason,
        backupModel: r.backup_model_id,
        backupProvider: r.backup_provider_id,
        outcome: r.outcome,
        count: r.count,
        latencyMs: r.latency_ms,
      },
      `fallback: ${r.original_model_id} (${r.original_provider_id}) → ${r.backup_model_id} (${r.backup_provider_id}): ${r.reason}${r.outcome === 'complete' ? '' : `, ${r.outcome}`}${r.count > 1 ? ` ×${r.count}` : ''}`,
    );
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
    // The window ends: later answers start new rows. The rows taken here are final from now on, so
    // a retry writes exactly what a possibly committed attempt wrote, and no answer joins a row
    // that ON CONFLICT would then skip.
    this.open.clear();
    if (batch.length === 0) return;
    // One line per row, when it is first written (a retry writes it again, silently): operators
    // alert on fallbacks from the log without a line per answer in an outage. Level checked first.
    if (this.log.isLevelEnabled('info')) for (const g of batch) if (!g.row) this.logFallback(rowOf(g));
    const rows = batch.map(rowOf);
    try {
      // A retry after an ambiguous failure (committed, then the connection broke) must not fail on
      // the rows it already wrote: ids are fixed when a row is created, so duplicates are skipped.
      const insert = (db: Kysely<Database>, values: FallbackEventsTable[]) =>
        db
          .insertInto('fallback_events')
          .values(values)
          .onConflict((oc) => oc.column('id').doNothing())
          .execute();
      if (rows.length <= this.batchSize) await insert(this.db, rows);
      else {
        // A backlog after an outage: statements of `batchSize` rows stay below the parameter limits.
        await this.db.transaction().execute(async (trx) => {
          for (let i = 0; i < rows.length; i += this.batchSize)
            await insert(trx, rows.slice(i, i + this.batchSize));
        });
      }
      this.failures = 0;
    } catch (err) {
      this.failures++;
      this.pending = batch.concat(this.pending);
      const over = this.pending.length - this.maxPending;
      if (over > 0) this.dropOldest(over);
      this.log.error(
        { err, pending: this.pending.length, failures: this.failures },
        'writing fallback activity failed; retrying',
      );
    }
    if (this.pending.length > 0) this.schedule(Math.min(this.flushMs * 2 ** this.failures, MAX_RETRY_MS));
  }
}
