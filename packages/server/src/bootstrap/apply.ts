/**
 * Idempotent provisioning, run at every start and when an organization is created: providers and
 * models from the environment, the bootstrap file and the built-in demo; the settings, first admin
 * and API keys of the bootstrap file. Running it twice changes nothing the second time.
 */
import type { FallbackSetting } from '@understudy/engine';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { checkSettings, upsertModel } from '../admin/index.js';
import { writeAudit } from '../audit/index.js';
import { DEFAULT_BASE_URLS, modelFromRow } from '../catalog/index.js';
import type { ServerConfig } from '../config.js';
import { DEMO_MODELS, type Demo } from '../demo/index.js';
import { createOrganization, emailTaken, insertUser, lockOrganization } from '../organizations/index.js';
import { hashPassword, type SecretBox } from '../security/index.js';
import { locking, nowIso, type Database, type StorageConfig } from '../storage/index.js';
import { actorFor, BOOTSTRAP, type Source } from './actors.js';
import { reconcileApiKeys } from './api-keys.js';
import type { BootstrapFile } from './config-file.js';
import { checkOperatorUrl } from './urls.js';
import { checkFileBeforeSetup } from './before-setup.js';
import { applyFileModels, retireFileModels } from './file-models.js';
import {
  resealProviderSecrets,
  stillUnreadable,
  unreadableMessage,
  type Unreadable,
} from './provider-secrets.js';
import { provisionDemo, upsertProvider } from './providers.js';
import { envCatalog, providerLabel, type ProviderSpec } from './sources.js';

/** What provisioning needs. */
export interface ProvisionDeps {
  db: Kysely<Database>;
  /** Which database `db` is (how its row locks are spelled). */
  storageKind: StorageConfig['kind'];
  box: SecretBox;
  config: ServerConfig;
  file: BootstrapFile | undefined;
  demo: Demo | undefined;
  log: Logger;
}

/** Runs `fn` in a transaction, or in the one `db` already is. */
function inTransaction<T>(db: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn);
}

/** What provisioning an organization changed, logged once its transaction has committed. */
interface Provisioned {
  orgId: string;
  changes: string[];
  /** What the file asks for and was left alone on purpose, with why. */
  warnings: string[];
}

function logProvisioned(log: Logger, done: Provisioned[]): void {
  for (const { orgId, changes, warnings } of done) {
    if (changes.length > 0) log.info({ orgId, changes }, 'provisioned organization');
    for (const w of warnings) log.warn({ orgId }, `UNDERSTUDY_CONFIG: ${w}`);
  }
}

/**
 * Provisions one organization in one transaction (a refusal changes nothing); `primary` also gets
 * the environment's and the file's providers and settings.
 */
export async function provisionOrganization(
  deps: ProvisionDeps,
  orgId: string,
  primary: boolean,
): Promise<void> {
  const done = await inTransaction(deps.db, (db) => provisionIn({ ...deps, db }, orgId, primary));
  logProvisioned(deps.log, [done]);
}

async function provisionIn(deps: ProvisionDeps, orgId: string, primary: boolean): Promise<Provisioned> {
  const { db, file } = deps;
  // The catalog's lock first, as an Admin's edit takes it: provisioning writes models, then the
  // organization's row, and an Admin's model edit at the same moment (on a running instance,
  // while this one starts) would otherwise hold one of the two while waiting for the other: a
  // deadlock. It also keeps the settings read below from going stale before they are checked.
  await lockOrganization(db, deps.storageKind, orgId);
  const changes: string[] = [];
  const warnings: string[] = [];
  // What made this run's changes, for the actor of its audit entries.
  const from = new Set<Source>();
  let firstModel: string | undefined;
  let firstFrom: Source | undefined;
  if (primary) {
    // With a bootstrap file, the file is the operator's whole declaration: OPENAI_API_KEY set for
    // its `apiKey: ${OPENAI_API_KEY}` must not also add the environment's provider and models.
    const env = file ? { providers: [], models: [] } : envCatalog(deps.config);
    const fileProviders: ProviderSpec[] = (file?.providers ?? []).map((p) => {
      const baseUrl = p.baseUrl ?? DEFAULT_BASE_URLS[p.type];
      if (!baseUrl) throw new Error(`UNDERSTUDY_CONFIG: provider ${p.id} needs a baseUrl for type ${p.type}`);
      const spec: ProviderSpec = {
        slug: p.id,
        type: p.type,
        label: p.label ?? providerLabel(p.id),
        baseUrl: baseUrl.replace(/\/$/, ''),
        source: 'config',
        allowPrivate: p.allowPrivate ?? false,
      };
      if (p.apiKey) spec.apiKey = p.apiKey;
      if (p.apiVersion) spec.apiVersion = p.apiVersion;
      if (p.headers) spec.headers = p.headers;
      return spec;
    });
    for (const p of [...env.providers, ...fileProviders]) {
      await checkOperatorUrl(p.baseUrl, p.allowPrivate, deps.config, `provider ${p.slug}`);
      const r = await upsertProvider(deps, orgId, p);
      if (!r) continue;
      changes.push(`provider ${p.slug} ${r}`);
      from.add(p.source === 'config' ? 'file' : 'environment');
    }
    // Environment models are added once; admins may edit them afterwards.
    for (const m of env.models) {
      const exists = await db
        .selectFrom('models')
        .select('id')
        .where('org_id', '=', orgId)
        .where('slug', '=', m.id)
        .executeTakeFirst();
      if (!exists) {
        await upsertModel(db, orgId, m, 'env');
        changes.push(`model ${m.id} created`);
        from.add('environment');
      }
      firstModel ??= m.id;
      firstFrom ??= 'environment';
    }
    const providerSlugs = new Set(
      (await db.selectFrom('providers').select('slug').where('org_id', '=', orgId).execute()).map(
        (r) => r.slug,
      ),
    );
    for (const fm of file?.models ?? [])
      if (!providerSlugs.has(fm.provider))
        throw new Error(
          `UNDERSTUDY_CONFIG: model ${fm.id} names provider "${fm.provider}", which is not declared`,
        );
    // File models are the operator's declaration: applied (the file wins) at every start.
    const fileModels = await applyFileModels(db, orgId, file?.models ?? []);
    changes.push(...fileModels);
    if (fileModels.length > 0) from.add('file');
    if (!firstModel && file?.models[0]) [firstModel, firstFrom] = [file.models[0].id, 'file'];
  }
  const demoChanges = await provisionDemo(deps, orgId);
  changes.push(...demoChanges);
  if (demoChanges.length > 0) from.add('simulator');
  if (!firstModel && deps.demo && DEMO_MODELS[0]) [firstModel, firstFrom] = [DEMO_MODELS[0].id, 'simulator'];

  const org = await db
    .selectFrom('organizations')
    .selectAll()
    .where('id', '=', orgId)
    .executeTakeFirstOrThrow();
  const before = {
    defaultModelId: org.default_model_id,
    fallback: settingOf(org.fallback_mode, org.fallback_model_id),
  };
  const after = { ...before };
  const fo = primary ? file?.organization : undefined;
  // Who chose the settings: the file when it names them, else where the first model came from.
  const settingsFrom = new Set<Source>(fo?.defaultModel || fo?.fallback ? ['file'] : []);
  if (fo?.defaultModel) after.defaultModelId = fo.defaultModel;
  else if (!after.defaultModelId && firstModel) {
    after.defaultModelId = firstModel;
    if (firstFrom) settingsFrom.add(firstFrom);
  }
  if (fo?.fallback) {
    const f = fo.fallback;
    after.fallback =
      typeof f === 'string'
        ? { mode: f }
        : f.mode === 'specific'
          ? { mode: 'specific', modelId: f.model }
          : { mode: f.mode };
  }
  const changedDefault = after.defaultModelId !== before.defaultModelId;
  const changedFallback = JSON.stringify(after.fallback) !== JSON.stringify(before.fallback);
  if (primary && file) {
    const retired = await retireFileModels(
      db,
      orgId,
      new Set(file.models.map((m) => m.id)),
      after,
      BOOTSTRAP,
    );
    changes.push(...retired.changes);
    warnings.push(...retired.warnings);
    if (retired.changes.length > 0) from.add('file');
  }
  // The file may also have changed the models the settings name (disabled the Default Model).
  if (changedDefault || changedFallback || (primary && file && after.defaultModelId !== null)) {
    const rows = await db.selectFrom('models').selectAll().where('org_id', '=', orgId).execute();
    const problem = checkSettings(before, after, rows.map(modelFromRow));
    if (problem) throw new Error(`UNDERSTUDY_CONFIG organization settings: ${problem}`);
  }
  if (changedDefault)
    changes.push(`default model ${before.defaultModelId ?? '(none)'} → ${after.defaultModelId}`);
  if (changedFallback)
    changes.push(`fallback ${fallbackText(before.fallback)} → ${fallbackText(after.fallback)}`);
  if (changedDefault || changedFallback) {
    await db
      .updateTable('organizations')
      .set({
        default_model_id: after.defaultModelId,
        fallback_mode: after.fallback.mode,
        fallback_model_id: after.fallback.mode === 'specific' ? after.fallback.modelId : null,
        updated_at: nowIso(),
      })
      .where('id', '=', orgId)
      .execute();
    for (const f of settingsFrom) from.add(f);
    await writeAudit(db, {
      orgId,
      actor: actorFor(settingsFrom),
      action: 'settings.update',
      targetType: 'settings',
      targetId: orgId,
      targetLabel: org.name,
      old: { defaultModel: before.defaultModelId, fallback: before.fallback },
      new: { defaultModel: after.defaultModelId, fallback: after.fallback },
    });
  }
  if (primary && fo && fo.name !== org.name) {
    await db
      .updateTable('organizations')
      .set({ name: fo.name, updated_at: nowIso() })
      .where('id', '=', orgId)
      .execute();
    changes.push(`organization renamed to ${fo.name}`);
    from.add('file');
  }
  if (primary && file) {
    if (file.admin && !(await emailTaken(db, file.admin.email))) {
      await insertUser(db, orgId, {
        email: file.admin.email,
        name: file.admin.name ?? file.admin.email,
        passwordHash: await hashPassword(file.admin.password),
        role: 'owner',
      });
      changes.push(`admin ${file.admin.email} created`);
      from.add('file');
    }
    const keys = await reconcileApiKeys(db, orgId, file.apiKeys, BOOTSTRAP);
    changes.push(...keys.changes);
    warnings.push(...keys.warnings);
    if (keys.changes.length > 0) from.add('file');
  }
  if (changes.length > 0) {
    await writeAudit(db, {
      orgId,
      actor: actorFor(from),
      action: 'bootstrap.apply',
      targetType: 'organization',
      targetId: orgId,
      targetLabel: primary && fo ? fo.name : org.name,
      new: { changes },
    });
  }
  return { orgId, changes, warnings };
}

function fallbackText(f: FallbackSetting): string {
  return f.mode === 'specific' ? `specific (${f.modelId})` : f.mode;
}

function settingOf(mode: string, model: string | null): FallbackSetting {
  if (mode === 'specific' && model) return { mode: 'specific', modelId: model };
  return mode === 'none' ? { mode: 'none' } : { mode: 'automatic' };
}

/**
 * At start: creates the organization from the bootstrap file when there is none and the file names
 * an admin (without one, checks the file as the setup link will apply it), then provisions every organization, all in one transaction: a file refused halfway
 * (a default model that does not exist) leaves the database as it was. Returns the primary
 * organization's id, if any.
 */
export async function bootstrapAtStart(deps: ProvisionDeps): Promise<string | undefined> {
  const { file } = deps;
  // Without an admin the setup link creates the organization and applies the file then.
  if (file && !file.admin && !deps.db.isTransaction)
    await checkFileBeforeSetup(deps.db, file.organization?.name ?? 'My organization', (db, orgId) =>
      provisionIn({ ...deps, db }, orgId, true),
    );
  const { primary, done, resealed, sealedClear, unreadable } = await inTransaction(deps.db, (db) =>
    bootstrapIn({ ...deps, db }),
  );
  if (resealed > 0)
    deps.log.info(
      { resealed },
      'provider keys and header values sealed with an older key of this instance were sealed again with the current UNDERSTUDY_SECRET',
    );
  if (sealedClear > 0)
    deps.log.info(
      { sealedClear },
      'provider header values stored in clear (before they were sealed) are sealed now',
    );
  for (const u of unreadable) deps.log.warn({ orgId: u.orgId, provider: u.slug }, unreadableMessage(u));
  logProvisioned(deps.log, done);
  // Without a shared secret each instance seals with its own data/secret.key: what this one wrote
  // again, the others can no longer open.
  if (
    !deps.config.secret &&
    done.some((d) => d.changes.some((c) => c.includes('sealed with another secret')))
  )
    deps.log.warn(
      "provider keys another instance sealed were written again with this instance's data/secret.key, which the other instances cannot open: set the same UNDERSTUDY_SECRET on every instance (docs/deployment.md)",
    );
  return primary;
}

async function bootstrapIn(deps: ProvisionDeps): Promise<{
  primary: string | undefined;
  done: Provisioned[];
  resealed: number;
  sealedClear: number;
  unreadable: Unreadable[];
}> {
  const { db, file } = deps;
  // Every organization's catalog lock, in id order, before the reseal writes their providers: an
  // Admin's provider edit takes the lock, then the provider's row (see provisionIn).
  await locking(
    deps.storageKind,
    db.selectFrom('organizations').select('id').orderBy('id'),
    'no-key-update',
  ).execute();
  // First: what provisioning compares (a declared provider's key) is then sealed with the current key.
  const secrets = await resealProviderSecrets(db, deps.box);
  let orgs = await db.selectFrom('organizations').select(['id', 'name']).orderBy('id').execute();
  if (orgs.length === 0 && file?.admin) {
    await createOrganization(db, {
      name: file.organization?.name ?? 'My organization',
      owner: {
        email: file.admin.email,
        name: file.admin.name ?? file.admin.email,
        passwordHash: await hashPassword(file.admin.password),
      },
    });
    orgs = await db.selectFrom('organizations').select(['id', 'name']).orderBy('id').execute();
  }
  if (file) {
    const declared = new Set(file.providers.map((p) => p.id));
    for (const p of envCatalog(deps.config).providers)
      if (!declared.has(p.slug))
        deps.log.warn(
          `${p.variable ?? 'the environment'} is set, but UNDERSTUDY_CONFIG declares the providers: provider ${p.slug} is not added; declare it in the file to use it`,
        );
  }
  const primary = (file?.organization && orgs.find((o) => o.name === file.organization?.name)) ?? orgs[0];
  const done: Provisioned[] = [];
  for (const o of orgs) done.push(await provisionIn(deps, o.id, o.id === primary?.id));
  return {
    primary: primary?.id,
    done,
    resealed: secrets.resealed,
    sealedClear: secrets.sealedClear,
    unreadable: await stillUnreadable(db, deps.box, secrets.unreadable),
  };
}
