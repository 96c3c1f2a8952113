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

/** Where provisioning that no bootstrap file asked for came from (the file's own is `bootstrap`). */
export interface SetupSources {
  environment: boolean;
  simulator: boolean;
}

/**
 * Understudy itself, setting up what the environment or the built-in simulator provides: an
 * organization made on the setup page gets the simulator's providers without any bootstrap file,
 * so "bootstrap" named an actor that was not there.
 */
export function setupActor(from: SetupSources): Actor {
  const what =
    from.environment && from.simulator
      ? 'environment variables and built-in simulator setup'
      : from.environment
        ? 'environment variables setup'
        : 'built-in simulator setup';
  return { id: null, label: `Understudy (${what})` };
}

/** Whether an entry is about the organization as a whole (its creation, settings, provisioning): its target id is the organization's. */
export function isOrganizationTarget(targetType: string): boolean {
  return targetType === 'organization' || targetType === 'settings';
}

/**
 * Every action the audit log records, as the API returns it in `action`. A new one needs its
 * reader's label in the web app (packages/web/src/settings/auditActions.ts); a test holds the two
 * lists alike.
 */
export const AUDIT_ACTIONS = [
  'organization.create',
  'bootstrap.apply',
  'settings.update',
  'provider.create',
  'provider.update',
  'provider.rotate_key',
  'provider.delete',
  'demo.outage',
  'model.create',
  'model.update',
  'model.order',
  'model.delete',
  'mate.create',
  'mate.update',
  'mate.delete',
  'api_key.create',
  'api_key.revoke',
  'api_key.reinstate',
  'invitation.create',
  'invitation.revoke',
  'invitation.accept',
  'member.role',
  'member.remove',
] as const;

/** One kind of change the audit log records. */
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** One change to record. `old`/`new` must already be free of secrets. */
export interface AuditEntry {
  orgId: string;
  actor: Actor;
  action: AuditAction;
  targetType: string;
  targetId?: string | null;
  /** What a reader knows the target by (a member's name and email): an id alone names no one. */
  targetLabel?: string | null;
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
      target_label: e.targetLabel ?? null,
      old_json: e.old === undefined ? null : JSON.stringify(e.old),
      new_json: e.new === undefined ? null : JSON.stringify(e.new),
    })
    .execute();
}

/** JSON with every object's keys sorted, so two values compare alike whatever their key order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    typeof x === 'object' && x !== null && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
}

/** Whether an update's old and new views are the same (nothing to record). */
export function unchanged(oldValue: unknown, newValue: unknown): boolean {
  return canonical(oldValue) === canonical(newValue);
}

/**
 * Appends an update's entry unless it changes nothing (old and new alike): a PATCH or PUT that
 * repeats the current values succeeds but is no change to audit. Says whether it wrote one.
 */
export async function writeAuditChange(
  db: Kysely<Database>,
  e: AuditEntry & { old: unknown; new: unknown },
): Promise<boolean> {
  if (unchanged(e.old, e.new)) return false;
  await writeAudit(db, e);
  return true;
}

/** How the audit log names a member: name and email (an account's id says nothing to a reader). */
export function memberLabel(m: { name: string; email: string }): string {
  return `${m.name} (${m.email})`;
}

/**
 * Targets whose id is random: entries written before they stored a label still hold the name in
 * their recorded values, which says more to a reader than the id.
 */
const NAMED_BY_VALUES = new Set(['mate', 'api_key']);

function nameIn(values: unknown): string | null {
  if (typeof values !== 'object' || values === null || !('name' in values)) return null;
  return typeof values.name === 'string' ? values.name : null;
}

/** One audit log entry as the API shows it. */
export interface AuditView {
  id: string;
  at: string;
  actor: Actor;
  action: string;
  targetType: string;
  targetId: string | null;
  targetLabel: string | null;
  old: unknown;
  new: unknown;
}

/** A page of the audit log: `next` is the `before` cursor of the older page, null on the last one. */
export interface AuditPage {
  entries: AuditView[];
  next: string | null;
}

/** A page of the organization's audit log, newest first, older than the `before` entry id if given. */
export async function listAudit(
  db: Kysely<Database>,
  orgId: string,
  opts: { limit: number; before?: string | undefined },
): Promise<AuditPage> {
  let q = db.selectFrom('audit_log').selectAll().where('org_id', '=', orgId);
  if (opts.before) q = q.where('id', '<', opts.before);
  // One row past the page says whether an older page exists, without a count of the whole log.
  const rows = await q
    .orderBy('id', 'desc')
    .limit(opts.limit + 1)
    .execute();
  const page = rows.slice(0, opts.limit);
  // Entries written before organization-level ones stored a label have only the id, which says
  // nothing to a reader: the organization's current name is the best there is for them.
  const unnamed = page.some((r) => r.target_label === null && isOrganizationTarget(r.target_type));
  const orgName = unnamed
    ? ((await db.selectFrom('organizations').select('name').where('id', '=', orgId).executeTakeFirst())
        ?.name ?? null)
    : null;
  const entries = page.map((r) => {
    const before = r.old_json === null ? null : (JSON.parse(r.old_json) as unknown);
    const after = r.new_json === null ? null : (JSON.parse(r.new_json) as unknown);
    return {
      id: r.id,
      at: r.at,
      actor: { id: r.actor_id, label: r.actor_label },
      action: r.action,
      targetType: r.target_type,
      targetId: r.target_id,
      targetLabel:
        r.target_label ??
        (isOrganizationTarget(r.target_type) && r.target_id === orgId ? orgName : null) ??
        (NAMED_BY_VALUES.has(r.target_type) ? (nameIn(after) ?? nameIn(before)) : null),
      old: before,
      new: after,
    };
  });
  return { entries, next: rows.length > opts.limit ? (page.at(-1)?.id ?? null) : null };
}
