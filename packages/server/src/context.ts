/** What every route module is given: the services of one running server. */
import type { Engine, HealthMemory, ModelConfig, ProviderConfig } from '@understudy/engine';
import type { ConnectionTestResult } from '@understudy/providers';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { FallbackRecorder } from './activity/index.js';
import type { ApiKeyCache } from './auth/index.js';
import type { CatalogService } from './catalog/index.js';
import type { Cluster } from './cluster/index.js';
import type { AnswerRuns } from './chat/index.js';
import type { ServerConfig } from './config.js';
import type { Metrics } from './metrics/index.js';
import type { SecretBox } from './security/index.js';
import type { Database, Storage } from './storage/index.js';

/** The built-in simulator as the admin API drives it. */
export interface DemoControl {
  /** Base URL of the in-process simulator. */
  url: string;
  /** The simulator's provider name for an organization's demo provider (its `/p/<name>` path). */
  simName(orgId: string, slug: string): string;
  /** Puts a simulated provider into an outage, or ends it (`fault` undefined). */
  setOutage(simName: string, fault: DemoFault | undefined): Promise<void>;
  /** The current outage of a simulated provider, if any. */
  outage(simName: string): DemoFault | undefined;
}

/** The outages the demo switch offers. */
export const DEMO_FAULTS = ['unavailable', 'overloaded', 'rate_limit', 'no_response', 'cut_after'] as const;
/** One demo outage kind. */
export type DemoFault = (typeof DEMO_FAULTS)[number];

/** Tests a provider connection (the adapters' testConnection). */
export type ConnectionTester = (
  provider: ProviderConfig,
  model?: ModelConfig,
  signal?: AbortSignal,
) => Promise<ConnectionTestResult>;

/** The services of one server. */
export interface AppContext {
  config: ServerConfig;
  storage: Storage;
  db: Kysely<Database>;
  box: SecretBox;
  log: Logger;
  metrics: Metrics;
  /**
   * Per-organization caches; `invalidate` reaches every instance and also drops the organization's
   * cached API keys.
   */
  catalogs: CatalogService;
  /** API key principals for the guard (cached; see `catalogs.invalidate` for revocation). */
  apiKeys: ApiKeyCache;
  /** Deployment-wide health memory (use `healthFor` for an organization's view). */
  health: HealthMemory;
  healthFor(orgId: string): HealthMemory;
  /** The engine for an organization (bound to its health view). */
  engineFor(orgId: string): Engine;
  testConnection: ConnectionTester;
  demo: DemoControl | undefined;
  /** Fallback activity, written behind the answer (flush before reading fallback_events). */
  fallbacks: FallbackRecorder;
  /** Answers in flight (web chat), for stop, reattach and graceful shutdown. */
  answers: AnswerRuns;
  /** Adds the environment's and the demo's providers to a new organization. */
  provision(orgId: string): Promise<void>;
  /** One-time token for first-run setup; undefined once an organization exists. */
  setupToken: string | undefined;
  /** This instance's id (recorded on the answers it writes). */
  instanceId: string;
  /** Shared health memory and settings changes between instances (local-only without Redis). */
  cluster: Cluster;
}
