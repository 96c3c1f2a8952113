/** Slugs: the ids an organization gives its providers and models, unique within it. */
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';

/** True when the organization has a provider (or a model) with this slug, read through `db`. */
export async function slugTaken(
  db: Kysely<Database>,
  table: 'providers' | 'models',
  orgId: string,
  slug: string,
): Promise<boolean> {
  const row = await db
    .selectFrom(table)
    .select('id')
    .where('org_id', '=', orgId)
    .where('slug', '=', slug)
    .executeTakeFirst();
  return row !== undefined;
}
