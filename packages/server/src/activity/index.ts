/**
 * Fallback activity: a row per chat fallback and per group of identical API fallbacks of one write
 * window (`count` answers), with counts of answers per provider per day for admins. Rows are
 * written behind the answer by a FallbackRecorder; readers flush it first.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';

export { FallbackRecorder, type FallbackEvent } from './recorder.js';

/**
 * Events (newest first) and counts per original provider per day, over the last `days` days. An
 * event stands for `count` answers (coalesced API fallbacks): `at` is the last of them, `firstAt`
 * the first, `latencyMs` their mean and `latencyMaxMs` the slowest; the counts per day add up
 * answers, not rows. Rows older than the coalescing read as one answer. `providers` and `models`
 * name the organization's current ones by id (providers in the order they were added, so a chart
 * can give each a colour that stays when another is added); an id missing there was removed.
 */
export async function fallbackActivity(
  db: Kysely<Database>,
  orgId: string,
  opts: { days: number; limit: number },
) {
  const since = new Date(Date.now() - opts.days * 86_400_000).toISOString().slice(0, 10);
  const events = await db
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
    .where('fallback_events.org_id', '=', orgId)
    .where('fallback_events.day', '>=', since)
    // `at` is a coalesced row's last answer; the id (made with its first) breaks ties.
    .orderBy('fallback_events.at', 'desc')
    .orderBy('fallback_events.id', 'desc')
    .limit(opts.limit)
    .execute();
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
