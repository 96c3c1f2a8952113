/**
 * Several identical instances behind a load balancer (issue 5): health memory and settings changes
 * shared through Redis when `REDIS_URL` is set, instances registered in the shared database.
 */
import { InMemoryHealth, type BreakerPolicy, type HealthMemory } from '@understudy/engine';
import type { Logger } from 'pino';
import type { CatalogService } from '../catalog/index.js';
import type { ServerConfig } from '../config.js';
import { RedisHealth } from './redis-health.js';
import { RedisLink, type ClusterMessage } from './redis-link.js';

export { RedisHealth } from './redis-health.js';
export { RedisLink, type ClusterMessage } from './redis-link.js';
export { newInstanceId, reclaimAnswers, registerInstance, type InstanceRegistry } from './instances.js';

/** What the server needs of the cluster. */
export interface Cluster {
  health: HealthMemory;
  /** Undefined without REDIS_URL. */
  link: RedisLink | undefined;
  /** Tells every instance (this one included) that an organization's catalog changed. */
  orgChanged(orgId: string): void;
  /** Asks the instance writing an answer to stop it. False without a working link. */
  requestStop(messageId: string): Promise<boolean>;
  /** Handlers set once the services they need exist. */
  onStop(fn: (messageId: string) => void): void;
  info(): { redis: 'off' | 'ok' | 'degraded'; downs?: number; localFallbacks?: number; lastError?: string };
  /** Like `info`, after checking Redis (bounded by its timeout). */
  verify(): Promise<ReturnType<Cluster['info']>>;
  close(): Promise<void>;
}

/** Sets up the cluster services: local-only without REDIS_URL. */
export async function startCluster(opts: {
  config: ServerConfig;
  instanceId: string;
  log: Logger;
  catalogs: CatalogService;
}): Promise<Cluster> {
  const { config, catalogs, log } = opts;
  const policy: Partial<BreakerPolicy> = {};
  if (config.circuitCooldownMs !== undefined) policy.baseCooldownMs = config.circuitCooldownMs;
  if (!config.redisUrl) {
    return {
      health: new InMemoryHealth({ policy }),
      link: undefined,
      orgChanged: (orgId) => catalogs.invalidate(orgId),
      requestStop: async () => false,
      onStop: () => undefined,
      info: () => ({ redis: 'off' }),
      verify: async () => ({ redis: 'off' }),
      close: async () => undefined,
    };
  }
  const link = await RedisLink.open({
    url: config.redisUrl,
    prefix: config.redisPrefix,
    timeoutMs: config.redisTimeoutMs,
    instanceId: opts.instanceId,
    log,
  });
  const health = new RedisHealth(link, { policy });
  let stopHandler: (messageId: string) => void = () => undefined;
  link.onMessage((m: ClusterMessage) => {
    if (m.type === 'org') catalogs.invalidate(m.orgId);
    else if (m.type === 'stop') stopHandler(m.messageId);
  });
  // Changes this instance could not announce while Redis was down or silent.
  const unannounced = new Set<string>();
  link.onResync(async () => {
    // Changes published while this instance could not hear them: rebuild every catalog.
    catalogs.invalidateAll();
    // And announce its own now: an instance that made no Redis call meanwhile never noticed the
    // outage, so it does not resync and would keep its cached catalog (and API keys) until maxAge.
    for (const orgId of [...unannounced]) {
      await link.cmd.publish(link.channel, link.envelope({ type: 'org', orgId }));
      unannounced.delete(orgId);
    }
  });
  await link.start();
  const info = () => {
    const { status, ...rest } = link.info();
    return { redis: status, ...rest };
  };
  return {
    health,
    link,
    orgChanged(orgId) {
      catalogs.invalidate(orgId);
      void link.publish({ type: 'org', orgId }).then((sent) => {
        if (!sent) unannounced.add(orgId);
      });
    },
    requestStop: (messageId) => link.publish({ type: 'stop', messageId }),
    onStop(fn) {
      stopHandler = fn;
    },
    info,
    async verify() {
      await link.verify();
      return info();
    },
    close: () => link.close(),
  };
}
