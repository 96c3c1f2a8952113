/** The audit log: every change to an organization's settings, who made it, old → new, never a secret. */
import type { Kysely } from 'kysely';
import { newId, nowIso, type Database } from '../storage/index.js';

/** Who made a change. */
export interface Actor {
  id: string | null;
  label: string;
}

/** The system itself (bootstrap file, environment, first-run setup). */
export const SYSTEM_ACTOR: Actor = { id: null, label: 'system' };

/** One change to record. `old`/`new` must already be free of secrets. */
export interface AuditEntry {
  orgId: string;
  actor: Actor;
  action: string;
  targetType: string;
  targetId?: string | null;
  old?: unknown;
  new?: unknown;
}

/** Appends an entry to the audit log (inside the caller's transaction when given one). */
export async function writeAudit(db: Kysely<Database>, e: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      id: newId(),
      org_id: e.orgId,
      at: nowIso(),
      actor_id: e.actor.id,
      actor_label: e.actor.label,
      action: e.action,
      target_type: e.targetType,
      target_id: e.targetId ?? null,
      old_json: e.old === undefined ? null : JSON.stringify(e.old),
      new_json: e.new === undefined ? null : JSON.stringify(e.new),
    })
    .execute();
}

/** One audit log entry as the API shows it. */
export interface AuditView {
  id: string;
  at: string;
  actor: Actor;
  action: string;
  targetType: string;
  targetId: string | null;
  old: unknown;
  new: unknown;
}

/** The organization's audit log, newest first. */
export async function listAudit(
  db: Kysely<Database>,
  orgId: string,
  opts: { limit: number; before?: string },
): Promise<AuditView[]> {
  let q = db.selectFrom('audit_log').selectAll().where('org_id', '=', orgId);
  if (opts.before) q = q.where('id', '<', opts.before);
  const rows = await q.orderBy('id', 'desc').limit(opts.limit).execute();
  return rows.map((r) => ({
    id: r.id,
    at: r.at,
    actor: { id: r.actor_id, label: r.actor_label },
    action: r.action,
    targetType: r.target_type,
    targetId: r.target_id,
    old: r.old_json === null ? null : (JSON.parse(r.old_json) as unknown),
    new: r.new_json === null ? null : (JSON.parse(r.new_json) as unknown),
  }));
}
