/** The organization's catalog for the engine, the built-in model facts, and per-org health views. */
export { createCatalogService, modelFromRow, type CatalogService, type OrgCatalog } from './service.js';
export { BUILTIN_MODELS, builtinFacts, DEFAULT_BASE_URLS, type BuiltinModel } from './builtin.js';
export { scopeHealth } from './scoped-health.js';
export { logHealthChanges } from './health-log.js';
