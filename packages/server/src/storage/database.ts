/**
 * Opens the database: embedded SQLite in the data folder by default, PostgreSQL when a
 * `postgres://` URL is given. Applies migrations before anything else touches it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';

/** Where the data lives. */
export type StorageConfig = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

/** An open, migrated database. */
export interface Storage {
  db: Kysely<Database>;
  kind: StorageConfig['kind'];
  /** Runs a trivial query; used by /readyz. */
  ping(): Promise<void>;
  /**
   * Runs `fn` while holding the deployment-wide startup lock (a PostgreSQL session advisory lock;
   * SQLite has a single instance). Migrations and the bootstrap file run under it, so several
   * instances starting at once neither race on DDL nor create the same organization twice.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The advisory lock key of startup work (any constant; "UNDS"). */
const STARTUP_LOCK = 0x554e4453;

/** The storage config for a data folder and optional DATABASE_URL. */
export function storageConfig(dataDir: string, databaseUrl?: string): StorageConfig {
  if (databaseUrl && /^postgres(ql)?:\/\//.test(databaseUrl)) return { kind: 'postgres', url: databaseUrl };
  return { kind: 'sqlite', file: join(dataDir, 'understudy.db') };
}

/** Opens and migrates the database. */
export async function openStorage(config: StorageConfig, opts: { poolMax?: number } = {}): Promise<Storage> {
  let db: Kysely<Database>;
  let exclusive: Storage['exclusive'] = (fn) => fn();
  if (config.kind === 'sqlite') {
    mkdirSync(join(config.file, '..'), { recursive: true });
    const sqlite = new SQLite(config.file);
    // WAL: readers do not block the writer; foreign keys are off by default in SQLite.
    sqlite.pragma('journal_mode = WAL');
    // No fsync per commit: WAL+NORMAL never corrupts; only the last commits before a power loss can be lost.
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  } else {
    // Loaded only here: the default SQLite setup never holds the PostgreSQL driver in memory.
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: config.url, max: opts.poolMax ?? 10 });
    // An idle client's network error must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    exclusive = async (fn) => {
      // A session lock on a connection of its own: the work itself uses the pool.
      const lock = new pg.Client({ connectionString: config.url });
      lock.on('error', () => undefined);
      await lock.connect();
      try {
        await lock.query('SELECT pg_advisory_lock($1)', [STARTUP_LOCK]);
        return await fn();
      } finally {
        await lock.query('SELECT pg_advisory_unlock($1)', [STARTUP_LOCK]).catch(() => undefined);
        await lock.end().catch(() => undefined);
      }
    };
  }
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error } = await exclusive(() => migrator.migrateToLatest()).catch((err: unknown) => ({
    error: err,
  }));
  if (error) {
    await db.destroy();
    throw error instanceof Error ? error : new Error(String(error));
  }
  return {
    db,
    kind: config.kind,
    ping: async () => {
      await db.selectFrom('organizations').select('id').limit(1).execute();
    },
    exclusive,
    close: () => db.destroy(),
  };
}
