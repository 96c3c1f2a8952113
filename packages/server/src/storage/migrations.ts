/**
 * Schema migrations, written once with Kysely's schema builder so the same code creates the same
 * tables on SQLite and PostgreSQL. Append new migrations; never edit an applied one.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/* Migrations run against an untyped database: the schema is what they create. */
type AnyDb = Kysely<unknown>;

const m001: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('organizations')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('default_model_id', 'text')
      .addColumn('fallback_mode', 'text', (c) => c.notNull().defaultTo('automatic'))
      .addColumn('fallback_model_id', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id'))
      .addColumn('email', 'text', (c) => c.notNull().unique())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('users_org').on('users').column('org_id').execute();

    await db.schema
      .createTable('sessions')
      .addColumn('id_hash', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('csrf_token', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('invitations')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id'))
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('accepted_at', 'text')
      .execute();

    await db.schema
      .createTable('api_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('prefix', 'text', (c) => c.notNull())
      .addColumn('key_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_by', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('last_used_at', 'text')
      .addColumn('revoked_at', 'text')
      .execute();

    await db.schema
      .createTable('providers')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id'))
      .addColumn('slug', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('label', 'text', (c) => c.notNull())
      .addColumn('base_url', 'text', (c) => c.notNull())
      .addColumn('api_key_enc', 'text')
      .addColumn('api_version', 'text')
      .addColumn('headers_json', 'text')
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('allow_private', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('providers_org_slug', ['org_id', 'slug'])
      .execute();

    await db.schema
      .createTable('models')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id'))
      .addColumn('slug', 'text', (c) => c.notNull())
      .addColumn('provider_slug', 'text', (c) => c.notNull())
      .addColumn('upstream_model', 'text', (c) => c.notNull())
      .addColumn('label', 'text', (c) => c.notNull())
      .addColumn('tier', 'integer', (c) => c.notNull())
      .addColumn('context_window', 'integer')
      .addColumn('max_output_tokens', 'integer')
      .addColumn('capabilities_json', 'text', (c) => c.notNull())
      .addColumn('tags_json', 'text', (c) => c.notNull())
      .addColumn('timeouts_json', 'text')
      .addColumn('enabled', 'integer', (c) => c.notNull())
      .addColumn('position', 'integer', (c) => c.notNull())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('models_org_slug', ['org_id', 'slug'])
      .execute();

    await db.schema
      .createTable('mates')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('instructions', 'text', (c) => c.notNull())
      .addColumn('model_id', 'text')
      .addColumn('created_by', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('mates_org').on('mates').column('org_id').execute();

    await db.schema
      .createTable('conversations')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id'))
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('mate_id', 'text', (c) => c.notNull())
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('conversations_user')
      .on('conversations')
      .columns(['org_id', 'user_id'])
      .execute();

    await db.schema
      .createTable('messages')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('conversation_id', 'text', (c) =>
        c.notNull().references('conversations.id').onDelete('cascade'),
      )
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('content', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('model_id', 'text')
      .addColumn('provider_id', 'text')
      .addColumn('input_tokens', 'integer')
      .addColumn('output_tokens', 'integer')
      .addColumn('usage_estimated', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('latency_ms', 'integer')
      .addColumn('ttft_ms', 'integer')
      .addColumn('fallback_json', 'text')
      .addColumn('error_json', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('messages_conversation_seq', ['conversation_id', 'seq'])
      .execute();
    await db.schema.createIndex('messages_status').on('messages').column('status').execute();

    await db.schema
      .createTable('fallback_events')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('day', 'text', (c) => c.notNull())
      .addColumn('surface', 'text', (c) => c.notNull())
      .addColumn('mate_id', 'text')
      .addColumn('message_id', 'text')
      .addColumn('original_model_id', 'text', (c) => c.notNull())
      .addColumn('original_provider_id', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('backup_model_id', 'text', (c) => c.notNull())
      .addColumn('backup_provider_id', 'text', (c) => c.notNull())
      .addColumn('latency_ms', 'integer')
      .addColumn('outcome', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('fallback_events_org_day')
      .on('fallback_events')
      .columns(['org_id', 'day'])
      .execute();

    await db.schema
      .createTable('audit_log')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('actor_id', 'text')
      .addColumn('actor_label', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('target_type', 'text', (c) => c.notNull())
      .addColumn('target_id', 'text')
      .addColumn('old_json', 'text')
      .addColumn('new_json', 'text')
      .execute();
    await db.schema.createIndex('audit_log_org').on('audit_log').columns(['org_id', 'id']).execute();
  },
};

/**
 * Several instances on one database (issue 5): each registers itself and beats a heartbeat, and an
 * answer in progress records the instance writing it, so crash recovery reclaims only the answers
 * of instances that stopped beating, never those another live instance is still writing.
 */
const m002: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('instances')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('started_at', 'text', (c) => c.notNull())
      .addColumn('heartbeat_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.alterTable('messages').addColumn('owner_instance', 'text').execute();
  },
};

/**
 * Coalesced fallback activity: identical API fallbacks within one write window become one row that
 * counts its answers, with the first time and the slowest latency (latency_ms holds the mean). The
 * default fills existing rows, so every older row reads as one answer. SQLite adds one column per
 * ALTER TABLE; like every migration this runs under the startup lock, once per deployment.
 */
const m003: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .alterTable('fallback_events')
      .addColumn('count', 'integer', (c) => c.notNull().defaultTo(1))
      .execute();
    await db.schema.alterTable('fallback_events').addColumn('first_at', 'text').execute();
    await db.schema.alterTable('fallback_events').addColumn('latency_max_ms', 'integer').execute();
  },
};

/**
 * The audit log names its target for a reader (a member's name and email), not only by id. Older
 * entries keep null: the web page shows their id as before.
 */
const m004: Migration = {
  async up(db: AnyDb) {
    await db.schema.alterTable('audit_log').addColumn('target_label', 'text').execute();
  },
};

/**
 * Who declared an API key: `admin` (created in the UI or the admin API) or `config` (the bootstrap
 * file, which revokes the keys it declared earlier and no longer declares). Before this, only the
 * bootstrap file created keys without a creator.
 */
const m005: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .alterTable('api_keys')
      .addColumn('source', 'text', (c) => c.notNull().defaultTo('admin'))
      .execute();
    await sql`UPDATE api_keys SET source = 'config' WHERE created_by IS NULL`.execute(db);
  },
};

/**
 * Who revoked an API key: `admin` (the UI, the admin API, a member's removal) or `config` (the
 * bootstrap file, which reinstates a key it revoked once it declares the key again; an admin's
 * revocation is final). Keys revoked before this are the file's when the audit log records the
 * bootstrap revoking them, an admin's otherwise: a key whose revoker is unknown stays revoked.
 */
const m006: Migration = {
  async up(db: AnyDb) {
    await db.schema.alterTable('api_keys').addColumn('revoked_by', 'text').execute();
    await sql`UPDATE api_keys SET revoked_by = 'config' WHERE revoked_at IS NOT NULL AND id IN
      (SELECT target_id FROM audit_log WHERE action = 'api_key.revoke' AND actor_id IS NULL
        AND actor_label = 'bootstrap')`.execute(db);
    await sql`UPDATE api_keys SET revoked_by = 'admin' WHERE revoked_at IS NOT NULL AND revoked_by IS NULL`.execute(
      db,
    );
  },
};

/**
 * The conversation list is read newest activity first, a page at a time: an index in that order
 * makes a page a range read, where (org_id, user_id) alone sorted all of a member's conversations
 * for every page (a member of a year has thousands). It covers what the old index did.
 */
const m007: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createIndex('conversations_user_activity')
      .on('conversations')
      .columns(['org_id', 'user_id', 'updated_at', 'id'])
      .execute();
    await db.schema.dropIndex('conversations_user').execute();
  },
};

/**
 * How many earlier messages of its conversation an answer was asked without (they did not fit the
 * model's context window), so the web app can say why the Mate seems to have forgotten them. Null
 * on older answers, on member messages and when the whole conversation was sent.
 */
const m008: Migration = {
  async up(db: AnyDb) {
    await db.schema.alterTable('messages').addColumn('context_left_out', 'integer').execute();
  },
};

/**
 * Fallback activity is read newest first a page at a time, back through a year of events: an
 * index in that order makes each page a range read, where (org_id, day) sorted every event of the
 * organization for each page. The counts per day keep (org_id, day).
 */
const m009: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createIndex('fallback_events_org_at')
      .on('fallback_events')
      .columns(['org_id', 'at', 'id'])
      .execute();
  },
};

/** Every migration, by name; names sort in application order. */
export const migrations: Record<string, Migration> = {
  '001_initial': m001,
  '002_instances': m002,
  '003_fallback_counts': m003,
  '004_audit_target_label': m004,
  '005_api_key_source': m005,
  '006_api_key_revoked_by': m006,
  '007_conversation_list_index': m007,
  '008_message_context_left_out': m008,
  '009_fallback_events_order_index': m009,
};

/** Kysely's provider for the in-code migrations above. */
export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};
