/**
 * Opens the database: embedded SQLite in the data folder by default, PostgreSQL when a
 * `postgres://` URL is given. Applies migrations before anything else touches it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
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
  close(): Promise<void>;
}

/** The storage config for a data folder and optional DATABASE_URL. */
export function storageConfig(dataDir: string, databaseUrl?: string): StorageConfig {
  if (databaseUrl && /^postgres(ql)?:\/\//.test(databaseUrl)) return { kind: 'postgres', url: databaseUrl };
  return { kind: 'sqlite', file: join(dataDir, 'understudy.db') };
}

/** Opens and migrates the database. */
export async function openStorage(config: StorageConfig): Promise<Storage> {
  let db: Kysely<Database>;
  if (config.kind === 'sqlite') {
    mkdirSync(join(config.file, '..'), { recursive: true });
    const sqlite = new SQLite(config.file);
    // WAL: readers do not block the writer; foreign keys are off by default in SQLite.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  } else {
    const pool = new pg.Pool({ connectionString: config.url, max: 10 });
    // An idle client's network error must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error } = await migrator.migrateToLatest();
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
    close: () => db.destroy(),
  };
}
