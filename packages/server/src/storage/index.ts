/** Storage: the migrated database (SQLite or PostgreSQL) and its table types. */
export {
  databaseFiles,
  isDatabaseUnavailable,
  isUniqueViolation,
  openStorage,
  pgAddress,
  storageConfig,
  type Storage,
  type StorageConfig,
} from './database.js';
export type * from './schema.js';
export { newId, nowIso } from './ids.js';
export { locking } from './locking.js';
export { migrations } from './migrations.js';
