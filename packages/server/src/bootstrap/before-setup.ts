/**
 * The bootstrap file checked on a database with no organization yet, when the file names no admin:
 * then nothing is provisioned at start, and the setup link's organization gets the file applied
 * when it is created. A file that would be refused then (a default model not in its list, a model
 * of an undeclared provider) must stop the start, as it does once an organization exists, rather
 * than let the server start and fail the operator's setup with an internal error.
 */
import type { Kysely } from 'kysely';
import { createOrganization } from '../organizations/index.js';
import type { Database } from '../storage/index.js';

/** Thrown inside the scratch transaction to roll it back once the file applied cleanly. */
class ScratchApplied extends Error {
  readonly reason = 'scratch_applied';
}

/**
 * When `db` holds no organization, applies the file (`provision`) to a scratch organization in a
 * transaction that is always rolled back: its refusal is thrown, its success writes nothing.
 */
export async function checkFileBeforeSetup(
  db: Kysely<Database>,
  name: string,
  provision: (trx: Kysely<Database>, orgId: string) => Promise<unknown>,
): Promise<void> {
  try {
    await db.transaction().execute(async (trx) => {
      if (await trx.selectFrom('organizations').select('id').limit(1).executeTakeFirst()) return;
      const { orgId } = await createOrganization(trx, {
        name,
        // Never stored (rolled back); the setup link creates the real Owner.
        owner: { email: 'scratch@bootstrap.invalid', name: 'scratch', passwordHash: '!' },
      });
      await provision(trx, orgId);
      throw new ScratchApplied('rolled back');
    });
  } catch (err) {
    if (!(err instanceof ScratchApplied)) throw err;
  }
}
