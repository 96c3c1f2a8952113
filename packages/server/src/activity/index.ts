/**
 * Fallback activity: a row per chat fallback and per group of identical API fallbacks of one write
 * window (`count` answers), with counts of answers per provider per day for admins. Rows are
 * written behind the answer by a FallbackRecorder; readers flush it first.
 */
import type { Kysely } from 'kysely';
import { pageCursor } from '../http/index.js';
import type { Database } from '../storage/index.js';

export { FallbackRecorder, type FallbackEvent } from './recorder.js';

/** Where a page of events ends: its last event's `at` and id (the list's order), opaque to clients. */
export interface EventCursor {
  at: string;
  id: string;
}

/**
 * Events (newest first, a page of `limit` older than the `before` event if given, `next` the
 * cursor of the older page or null) and counts per original provider per day over the last
 * `days` days. Events page back through everything stored, past the counts' days: a year of
 * them can be browsed. An event stands for `count` answers (coalesced API fallbacks): `at` is
 * the last of them, `firstAt` the first, `latencyMs` their mean and `latencyMaxMs` the slowest;
 * the counts per day add up answers, not rows. Rows older than the coalescing read as one answer.
 * `providers` and `models` name the organization's current ones by id (providers in the order
 * they were added, so a chart can give each a colour that stays when another is added); an id
 * missing there was removed.
 */
export async function fallbackActivity(
  db: Kysely<Database>,
  orgId: string,
  opts: { days: number; limit: number; before?: EventCursor | undefined },
) {
  const since = new Date(Date.now() - opts.days * 86_400_000).toISOString().slice(0, 10);
  const { before } = opts;
  let eventsQuery = db
    .selectFrom('fallback_events')
    .leftJoin('mates', 'mates.id', 'fallback_events.mate_id')
    .select([
      'fallback_events.id',
      'fallback_events.at',
      'fallback_events.surface',
      'fallback_events.mate_id',
      'mates.name as mate_name',
      'fallback_events.original_model_id',
      'fallback_events.original_provider_id',
      'fallback_events.reason',
      'fallback_events.backup_model_id',
      'fallback_events.backup_provider_id',
      'fallback_events.latency_ms',
      'fallback_events.outcome',
      'fallback_events.count',
      'fallback_events.first_at',
      'fallback_events.latency_max_ms',
    ])
    .where('fallback_events.org_id', '=', orgId);
  // A row is final once written, so (at, id) of the last one shown marks the same place later.
  if (before)
    eventsQuery = eventsQuery.where((eb) =>
      eb(eb.refTuple('fallback_events.at', 'fallback_events.id'), '<', eb.tuple(before.at, before.id)),
    );
  // `at` is a coalesced row's last answer; the id (made with its first) breaks ties. Read through
  // fallback_events_org_at backwards; one row past the page says whether an older page exists.
  const rows = await eventsQuery
    .orderBy('fallback_events.at', 'desc')
    .orderBy('fallback_events.id', 'desc')
    .limit(opts.limit + 1)
    .execute();
  const events = rows.slice(0, opts.limit);
  const last = events.at(-1);
  const counts = await db
    .selectFrom('fallback_events')
    .select(['day', 'original_provider_id', 'reason', (eb) => eb.fn.sum<number | string>('count').as('n')])
    .where('org_id', '=', orgId)
    .where('day', '>=', since)
    .groupBy(['day', 'original_provider_id', 'reason'])
    .orderBy('day', 'desc')
    .orderBy('original_provider_id')
    .execute();
  const [providers, models] = await Promise.all([
    db
      .selectFrom('providers')
      .select(['slug as id', 'label'])
      .where('org_id', '=', orgId)
      .orderBy('created_at')
      .orderBy('slug')
      .execute(),
    db
      .selectFrom('models')
      .select(['slug as id', 'label'])
      .where('org_id', '=', orgId)
      .orderBy('slug')
      .execute(),
  ]);
  return {
    events: events.map((r) => ({
      id: r.id,
      at: r.at,
      surface: r.surface,
      mate: r.mate_id ? { id: r.mate_id, name: r.mate_name } : null,
      originalModel: r.original_model_id,
      originalProvider: r.original_provider_id,
      reason: r.reason,
      backupModel: r.backup_model_id,
      backupProvider: r.backup_provider_id,
      latencyMs: r.latency_ms,
      latencyMaxMs: r.latency_max_ms ?? r.latency_ms,
      outcome: r.outcome,
      count: Number(r.count),
      firstAt: r.first_at ?? r.at,
    })),
    // The `next` a client sends back as `before`: where this page ends.
    next: rows.length > opts.limit && last ? pageCursor(last.at, last.id) : null,
    countsByDay: counts.map((c) => ({
      day: c.day,
      provider: c.original_provider_id,
      reason: c.reason,
      count: Number(c.n),
    })),
    providers,
    models,
  };
}
