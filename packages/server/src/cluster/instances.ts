/**
 * Instances sharing one database (issue 5). Each instance registers itself and beats a heartbeat;
 * the answers it writes carry its id. Crash recovery then reclaims (marks interrupted) only answers
 * whose instance is gone or silent, never those another live instance is still writing. SQLite has
 * a single instance, so everything in progress at start is reclaimed (the previous run's answers).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { nowIso, type Database } from '../storage/index.js';

/** A new instance id: host, process and a random suffix (readable in the database and logs). */
export function newInstanceId(): string {
  const host = hostname()
    .replace(/[^A-Za-z0-9.-]/g, '')
    .slice(0, 40);
  return `${host || 'host'}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

const INTERRUPTED_ERROR = JSON.stringify({
  reason: 'interrupted',
  message: 'the server stopped while this answer was being written; retry it',
  primary: null,
  backup: null,
});

/**
 * Marks as interrupted the answers in progress that no live instance is writing: those of no
 * instance, of an instance whose heartbeat is older than `staleBefore`, or (at start) every one when
 * `all`. Never touches `selfId`'s, except those named in `previousRun`: a previous run's under the
 * same id. Returns how many. On PostgreSQL (`shared`) it skips the rows another transaction holds
 * (SKIP LOCKED): the next beat takes those still in progress.
 */
export async function reclaimAnswers(
  db: Kysely<Database>,
  opts: {
    selfId: string;
    staleBefore?: string;
    all?: boolean;
    previousRun?: readonly string[];
    shared?: boolean;
  },
): Promise<number> {
  let stale = db.selectFrom('messages').select('id').where('status', '=', 'in_progress');
  if (!opts.all) {
    const live = db
      .selectFrom('instances')
      .select('id')
      .where('heartbeat_at', '>=', opts.staleBefore ?? nowIso());
    stale = stale.where((eb) =>
      eb.or([
        eb('owner_instance', 'is', null),
        eb.and([eb('owner_instance', '!=', opts.selfId), eb('owner_instance', 'not in', live)]),
        ...(opts.previousRun?.length
          ? [eb.and([eb('owner_instance', '=', opts.selfId), eb('id', 'in', opts.previousRun)])]
          : []),
      ]),
    );
  }
  // One statement over many rows, in the order its plan finds them, would wait for a row while
  // holding others: a conversation's delete (its messages in another order), or another instance
  // reclaiming the same answers, then waits for it in turn, and PostgreSQL ends one of them as a
  // deadlock (the member's delete: a 500). Skipping what is held, it never waits for a row.
  if (opts.shared) stale = stale.forUpdate().skipLocked();
  const r = await db
    .updateTable('messages')
    .set({ status: 'interrupted', error_json: INTERRUPTED_ERROR, updated_at: nowIso() })
    .where('status', '=', 'in_progress')
    .where('id', 'in', stale)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** Of `ids`, those of `selfId`'s answers still in progress (a plain read: it waits for no lock). */
async function ownInProgress(
  db: Kysely<Database>,
  selfId: string,
  ids?: readonly string[],
): Promise<string[]> {
  if (ids?.length === 0) return [];
  let q = db
    .selectFrom('messages')
    .select('id')
    .where('status', '=', 'in_progress')
    .where('owner_instance', '=', selfId);
  if (ids) q = q.where('id', 'in', ids);
  return (await q.execute()).map((r) => r.id);
}

/** This instance's registration: heartbeat and periodic reclaim of silent instances' answers. */
export interface InstanceRegistry {
  id: string;
  /** Stops beating and deregisters (its remaining answers become reclaimable at once). */
  stop(): Promise<void>;
}

/** Timings (tests shorten them). */
export interface InstanceTimings {
  heartbeatMs: number;
  /** An instance silent for this long is considered gone. */
  staleMs: number;
}

/**
 * A crashed instance's answers show "in progress" for `staleMs` plus a beat at most (it was 45 s).
 * Six missed beats in a row is still far beyond a momentarily busy pool; a live instance wrongly
 * taken for gone only sees its answers shown interrupted until its final save overwrites that.
 */
export const DEFAULT_INSTANCE_TIMINGS: InstanceTimings = { heartbeatMs: 1_000, staleMs: 6_000 };

/** Registers (or, restarted under the same id, re-registers) an instance as alive now. */
async function register(db: Kysely<Database>, id: string): Promise<void> {
  const at = nowIso();
  await db
    .insertInto('instances')
    .values({ id, started_at: at, heartbeat_at: at })
    .onConflict((oc) => oc.column('id').doUpdateSet({ started_at: at, heartbeat_at: at }))
    .execute();
}

/**
 * Registers the instance, reclaims answers left by gone instances (all of them on SQLite), then
 * (shared database only) beats and reclaims periodically. Returns how many answers were reclaimed
 * at start.
 */
export async function registerInstance(
  db: Kysely<Database>,
  opts: { id: string; shared: boolean; log: Logger; timings?: InstanceTimings },
): Promise<{ registry: InstanceRegistry; reclaimed: number }> {
  const t = opts.timings ?? DEFAULT_INSTANCE_TIMINGS;
  await register(db, opts.id);
  const staleBefore = () => new Date(Date.now() - t.staleMs).toISOString();
  // Ids are unique: one restarted under a fixed UNDERSTUDY_INSTANCE_ID recovers its previous run's
  // answers at once, without waiting for that run to fall silent. Nothing of this run is written
  // yet, so every answer in progress under its id is the previous run's: they are named now, and
  // those the start's reclaim skipped (another transaction held them, then rolled back) are taken
  // by the beats. No other instance would take them: this id is alive again.
  const previous = opts.shared ? await ownInProgress(db, opts.id) : [];
  const reclaimed = await reclaimAnswers(db, {
    selfId: opts.id,
    all: !opts.shared,
    staleBefore: staleBefore(),
    previousRun: previous,
    shared: opts.shared,
  });
  let previousRun = await ownInProgress(db, opts.id, previous);
  const deregister = () =>
    db
      .deleteFrom('instances')
      .where('id', '=', opts.id)
      .execute()
      .then(() => undefined)
      .catch(() => undefined);
  // SQLite has one instance: nobody reads its heartbeat, so it does not write one every second.
  if (!opts.shared) return { reclaimed, registry: { id: opts.id, stop: deregister } };
  let beats = 0;
  let beating = false;
  // While the database is unreachable every beat fails: one line when that starts, one when a
  // beat succeeds again (with how long and how many), not a warning with a stack every beat.
  let failing: { since: number; beats: number } | undefined;
  const timer = setInterval(() => {
    // A beat still waiting for the database will refresh the heartbeat itself: no pile-up.
    if (beating) return;
    beating = true;
    void (async () => {
      const at = nowIso();
      const r = await db
        .updateTable('instances')
        .set({ heartbeat_at: at })
        .where('id', '=', opts.id)
        .executeTakeFirst();
      // Removed by another instance after a long pause (e.g. a suspended VM): register again.
      if (Number(r.numUpdatedRows) === 0) await register(db, opts.id);
      // Every beat: a crashed instance's answers are recovered as soon as it counts as gone.
      const n = await reclaimAnswers(db, {
        selfId: opts.id,
        staleBefore: staleBefore(),
        previousRun,
        shared: true,
      });
      previousRun = await ownInProgress(db, opts.id, previousRun);
      if (n > 0) opts.log.warn({ reclaimed: n }, 'answers of a stopped instance were marked interrupted');
      // Forget instances silent for a long time (checked now and then: it is not urgent).
      if (++beats % 30 !== 0) return;
      await db
        .deleteFrom('instances')
        .where('heartbeat_at', '<', new Date(Date.now() - 60 * t.staleMs).toISOString())
        .execute();
    })()
      .then(
        () => {
          if (!failing) return;
          opts.log.info(
            { failedBeats: failing.beats, failingMs: Date.now() - failing.since },
            'instance heartbeat recovered',
          );
          failing = undefined;
        },
        (err: unknown) => {
          if (failing) {
            failing.beats++;
            return;
          }
          failing = { since: Date.now(), beats: 1 };
          const error = err instanceof Error ? err.message : String(err);
          opts.log.warn({ error }, 'instance heartbeat failed (one line until a beat succeeds again)');
        },
      )
      .finally(() => (beating = false));
  }, t.heartbeatMs);
  timer.unref();
  return {
    reclaimed,
    registry: {
      id: opts.id,
      async stop() {
        clearInterval(timer);
        await deregister();
      },
    },
  };
}
