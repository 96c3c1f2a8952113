/** Organizations: creation with their first Owner, and the settings row. */
import type { Kysely } from 'kysely';
import { writeAudit, SYSTEM_ACTOR } from '../audit/index.js';
import { conflict } from '../http/index.js';
import {
  isUniqueViolation,
  locking,
  newId,
  nowIso,
  type Database,
  type Role,
  type StorageConfig,
} from '../storage/index.js';

/** A user to create, with an already hashed password. */
export interface NewUser {
  email: string;
  name: string;
  passwordHash: string;
  role: Role;
}

/**
 * Locks the organization's row in the transaction `trx` until it ends: the mutex of changes to
 * its model catalog (providers, models), whose checks read rows other than those they write (a
 * provider's models; whether an id is taken). Not a full lock: every row of the organization
 * references it (foreign keys), and those keep being inserted meanwhile.
 */
export async function lockOrganization(
  trx: Kysely<Database>,
  kind: StorageConfig['kind'],
  orgId: string,
): Promise<void> {
  const row = trx.selectFrom('organizations').select('id').where('id', '=', orgId);
  await locking(kind, row, 'no-key-update').execute();
}

/** Normalises an email for storage and lookup. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** True when some user already has this email (emails are unique across the deployment). */
export async function emailTaken(db: Kysely<Database>, email: string): Promise<boolean> {
  const row = await db
    .selectFrom('users')
    .select('id')
    .where('email', '=', normalizeEmail(email))
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Inserts a user into an organization; returns its id. An email another request gave an account
 * meanwhile (a sign-up sent twice) is a 409, as when it was taken before.
 */
export async function insertUser(db: Kysely<Database>, orgId: string, u: NewUser): Promise<string> {
  const id = newId();
  try {
    await db
      .insertInto('users')
      .values({
        id,
        org_id: orgId,
        email: normalizeEmail(u.email),
        name: u.name,
        password_hash: u.passwordHash,
        role: u.role,
        created_at: nowIso(),
      })
      .execute();
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict('that email already has an account');
    throw err;
  }
  return id;
}

/** Creates an organization (fallback Automatic, SPEC §1) with its first Owner and a first Mate, in one transaction. */
export async function createOrganization(
  db: Kysely<Database>,
  input: { name: string; owner: Omit<NewUser, 'role'> },
): Promise<{ orgId: string; userId: string }> {
  // The bootstrap file creates it inside the transaction that applies the whole file.
  const inTransaction = <T>(fn: (trx: Kysely<Database>) => Promise<T>) =>
    db.isTransaction ? fn(db) : db.transaction().execute(fn);
  return inTransaction(async (trx) => {
    const orgId = newId();
    const now = nowIso();
    await trx
      .insertInto('organizations')
      .values({
        id: orgId,
        name: input.name,
        default_model_id: null,
        fallback_mode: 'automatic',
        fallback_model_id: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    const userId = await insertUser(trx, orgId, { ...input.owner, role: 'owner' });
    // A first Mate on the organization default, so members can chat right after setup.
    await trx
      .insertInto('mates')
      .values({
        id: newId(),
        org_id: orgId,
        name: 'Assistant',
        instructions: 'You are a helpful assistant.',
        model_id: null,
        created_by: userId,
        created_at: now,
        updated_at: now,
      })
      .execute();
    await writeAudit(trx, {
      orgId,
      actor: SYSTEM_ACTOR,
      action: 'organization.create',
      targetType: 'organization',
      targetId: orgId,
      targetLabel: input.name,
      new: { name: input.name, owner: normalizeEmail(input.owner.email), mate: 'Assistant' },
    });
    return { orgId, userId };
  });
}

/** How many organizations exist (0 means first-run setup is pending). */
export async function countOrganizations(db: Kysely<Database>): Promise<number> {
  const r = await db
    .selectFrom('organizations')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}
