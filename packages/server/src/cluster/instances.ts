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
 * `all`. Never touches `selfId`'s. Returns how many.
 */
export async function reclaimAnswers(
  db: Kysely<Database>,
  opts: { selfId: string; staleBefore?: string; all?: boolean },
): Promise<number> {
  let q = db
    .updateTable('messages')
    .set({ status: 'interrupted', error_json: INTERRUPTED_ERROR, updated_at: nowIso() })
    .where('status', '=', 'in_progress');
  if (!opts.all) {
    const live = db
      .selectFrom('instances')
      .select('id')
      .where('heartbeat_at', '>=', opts.staleBefore ?? nowIso());
    q = q.where((eb) =>
      eb.or([
        eb('owner_instance', 'is', null),
        eb.and([eb('owner_instance', '!=', opts.selfId), eb('owner_instance', 'not in', live)]),
      ]),
    );
  }
  const r = await q.executeTakeFirst();
  return Number(r.numUpdatedRows);
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

export const DEFAULT_INSTANCE_TIMINGS: InstanceTimings = { heartbeatMs: 5_000, staleMs: 30_000 };

/**
 * Registers the instance, reclaims answers left by gone instances (all of them on SQLite), then
 * beats and reclaims periodically. Returns how many answers were reclaimed at start.
 */
export async function registerInstance(
  db: Kysely<Database>,
  opts: { id: string; shared: boolean; log: Logger; timings?: InstanceTimings },
): Promise<{ registry: InstanceRegistry; reclaimed: number }> {
  const t = opts.timings ?? DEFAULT_INSTANCE_TIMINGS;
  const now = nowIso();
  await db.insertInto('instances').values({ id: opts.id, started_at: now, heartbeat_at: now }).execute();
  const staleBefore = () => new Date(Date.now() - t.staleMs).toISOString();
  const reclaimed = await reclaimAnswers(db, {
    selfId: opts.id,
    all: !opts.shared,
    staleBefore: staleBefore(),
  });
  let beats = 0;
  const timer = setInterval(() => {
    void (async () => {
      const at = nowIso();
      const r = await db
        .updateTable('instances')
        .set({ heartbeat_at: at })
        .where('id', '=', opts.id)
        .executeTakeFirst();
      // Removed by another instance after a long pause (e.g. a suspended VM): register again.
      if (Number(r.numUpdatedRows) === 0)
        await db.insertInto('instances').values({ id: opts.id, started_at: at, heartbeat_at: at }).execute();
      if (!opts.shared || ++beats % 3 !== 0) return;
      const n = await reclaimAnswers(db, { selfId: opts.id, staleBefore: staleBefore() });
      if (n > 0) opts.log.warn({ reclaimed: n }, 'answers of a stopped instance were marked interrupted');
      // Forget instances silent for a long time.
      await db
        .deleteFrom('instances')
        .where('heartbeat_at', '<', new Date(Date.now() - 60 * t.staleMs).toISOString())
        .execute();
    })().catch((err: unknown) => opts.log.warn({ err }, 'instance heartbeat failed'));
  }, t.heartbeatMs);
  timer.unref();
  return {
    reclaimed,
    registry: {
      id: opts.id,
      async stop() {
        clearInterval(timer);
        await db
          .deleteFrom('instances')
          .where('id', '=', opts.id)
          .execute()
          .catch(() => undefined);
      },
    },
  };
}
