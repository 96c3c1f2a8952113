/**
 * UNDERSTUDY_DEMO=auto: the simulator is for a deployment that has no provider yet, so besides the
 * environment and the bootstrap file it looks at the database. An organization with providers of
 * its own (from the environment, a file or an admin) never gets the simulator added: an instance
 * started with a slightly different environment (no UNDERSTUDY_CONFIG) must not put Simulator A
 * and B into a production organization. One that already has them (tried the demo, then added a
 * real provider) keeps them, so its models do not vanish at the next start.
 */
import type { Kysely } from 'kysely';
import type { ServerConfig } from '../config.js';
import type { Database } from '../storage/index.js';
import type { BootstrapFile } from './config-file.js';
import { hasRealProviders } from './sources.js';

/** Whether the organization takes the simulator's providers: it has none but them (or none at all). */
export async function demoBelongsIn(db: Kysely<Database>, orgId: string): Promise<boolean> {
  const sources = (
    await db.selectFrom('providers').select('source').where('org_id', '=', orgId).execute()
  ).map((r) => r.source);
  return sources.includes('demo') || sources.length === 0;
}

/**
 * Whether this start runs the simulator: `on` always, `off` never, `auto` when the operator
 * declares no real provider and some organization is to use it (or none exists yet: first-run
 * setup creates one).
 */
export async function runsDemo(
  db: Kysely<Database>,
  config: ServerConfig,
  file: BootstrapFile | undefined,
): Promise<boolean> {
  if (config.demo !== 'auto') return config.demo === 'on';
  if (hasRealProviders(config, file)) return false;
  const orgs = await db.selectFrom('organizations').select('id').execute();
  if (orgs.length === 0) return true;
  for (const o of orgs) if (await demoBelongsIn(db, o.id)) return true;
  return false;
}
