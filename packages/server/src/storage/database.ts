/**
 * Opens the database: embedded SQLite in the data folder by default, PostgreSQL when a
 * `postgres://` URL is given. Applies migrations before anything else touches it.
 */
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
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

/** The database's files on disk: SQLite's, with its -wal and -shm; none for PostgreSQL. */
export function databaseFiles(config: StorageConfig): string[] {
  return config.kind === 'sqlite' ? [config.file, `${config.file}-wal`, `${config.file}-shm`] : [];
}

/** `host:port` of a PostgreSQL URL: all an error may show of DATABASE_URL (never its password). */
export function pgAddress(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}`;
  } catch {
    return 'an unreadable URL';
  }
}

/** Error codes of a database that cannot be reached, as opposed to one that refused a query. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  // PostgreSQL: shutting down, starting up, too many connections; SQLite: locked past busy_timeout.
  '57P01',
  '57P02',
  '57P03',
  '53300',
  'SQLITE_BUSY',
]);

/**
 * True for an error that means the database is unavailable right now (network, a connection lost
 * or timed out, a server stopping or full), not a query it refused: a request failing on it is
 * worth retrying (503), not a bug (500).
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  // Node gives an AggregateError when every address of a name refused (localhost: ::1 and 127.0.0.1).
  if (err instanceof AggregateError && err.errors.some(isDatabaseUnavailable)) return true;
  const code = (err as { code?: unknown }).code;
  // SQLSTATE class 08: connection exceptions.
  if (typeof code === 'string' && (UNREACHABLE.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  // pg's own wording for a connection that broke or could not be made in time.
  return /^Connection terminated|timeout exceeded when trying to connect|^Client has encountered a connection error/.test(
    err.message,
  );
}

/**
 * True for a write refused by a unique constraint (PostgreSQL 23505, SQLite's UNIQUE): another
 * request wrote the same thing first.
 */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** How long a start waits for PostgreSQL to accept a connection before saying it is not reachable. */
const PG_CONNECT_TIMEOUT_MS = 10_000;

/** A PostgreSQL failure at start, naming DATABASE_URL's host and port (what to check). */
function pgStartError(url: string, err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  const where = `PostgreSQL at DATABASE_URL (${pgAddress(url)})`;
  return new Error(
    isDatabaseUnavailable(err) ? `${where} is not reachable: ${message}` : `${where}: ${message}`,
    { cause: err },
  );
}

const uid = () => (process.getuid ? ` (uid ${process.getuid()})` : '');
const writable = (path: string) => {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * Opens the SQLite file, creating its folder. SQLite's own "unable to open database file" names
 * neither the file nor the cause; an operator needs both.
 */
function openSqlite(file: string): SQLite.Database {
  const dir = dirname(file);
  try {
    // The data folder holds the database and secret.key: only this user may list or enter it
    // (applies to the folders created here; one the operator made is left as it is).
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new Error(
      `the data folder ${dir} (UNDERSTUDY_DATA_DIR) cannot be created: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  try {
    // SQLite creates a new database with the umask's mode (0644 under the usual 022: every local
    // user could read chats and hashes), and its -wal and -shm with the database file's mode; an
    // empty file of our own making, 0600, is a new database to it.
    if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
    const sqlite = new SQLite(file);
    // WAL: readers do not block the writer; foreign keys are off by default in SQLite.
    sqlite.pragma('journal_mode = WAL');
    // No fsync per commit: WAL+NORMAL never corrupts; only the last commits before a power loss can be lost.
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    return sqlite;
  } catch (err) {
    const message = (err as Error).message;
    if (!writable(dir))
      throw new Error(
        `the data folder ${dir} (UNDERSTUDY_DATA_DIR) is not writable by this user${uid()}: SQLite cannot create its files there (${message})`,
        { cause: err },
      );
    if (existsSync(file) && !writable(file))
      throw new Error(`the database file ${file} is not writable by this user${uid()} (${message})`, {
        cause: err,
      });
    throw new Error(`SQLite could not open ${file}: ${message}`, { cause: err });
  }
}

/** Opens and migrates the database. */
export async function openStorage(config: StorageConfig, opts: { poolMax?: number } = {}): Promise<Storage> {
  let db: Kysely<Database>;
  let exclusive: Storage['exclusive'] = (fn) => fn();
  if (config.kind === 'sqlite') {
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: openSqlite(config.file) }) });
  } else {
    // Loaded only here: the default SQLite setup never holds the PostgreSQL driver in memory.
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: config.url, max: opts.poolMax ?? 10 });
    // An idle client's network error must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    // Nor a busy one's: the pool listens to a client only while it is idle, and a connection cut
    // during a query (PostgreSQL restarting, the network) emits 'error' on the client after
    // failing the query, which, unheard, is an uncaught exception. The query's caller has the error.
    pool.on('connect', (client) => client.on('error', () => undefined));
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    exclusive = async (fn) => {
      // A session lock on a connection of its own: the work itself uses the pool.
      const lock = new pg.Client({
        connectionString: config.url,
        connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
      });
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
    if (config.kind === 'postgres') throw pgStartError(config.url, error);
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
