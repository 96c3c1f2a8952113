/**
 * The composition root: opens storage, loads the secret key, starts the demo simulator when
 * needed, provisions organizations, wires the engine and every route module, and shuts down
 * gracefully. `startServer` is what `main()` and the tests call.
 */
import { createEngine, type Engine } from '@understudy/engine';
import { testConnection } from '@understudy/providers';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { FallbackRecorder } from './activity/index.js';
import { registerAdminRoutes } from './admin/index.js';
import { ApiKeyCache, installGuard, PUBLIC, registerAuthRoutes } from './auth/index.js';
import {
  bootstrapAtStart,
  checkBootstrapUrls,
  checkEnvironmentUrls,
  provisionOrganization,
  readBootstrapFile,
  runsDemo,
  type ProvisionDeps,
} from './bootstrap/index.js';
import { createCatalogService, logHealthChanges, scopeHealth, type CatalogService } from './catalog/index.js';
import { AnswerRuns, registerChatRoutes } from './chat/index.js';
import { newInstanceId, registerInstance, startCluster } from './cluster/index.js';
import type { ServerConfig } from './config.js';
import type { AppContext } from './context.js';
import { startDemo, type Demo } from './demo/index.js';
import {
  databaseUnavailable,
  frameworkClientError,
  frameworkErrors,
  HttpError,
  installApiHeaders,
  installDrain,
  lazyChildLogger,
} from './http/index.js';
import { createLogger, logLinesDropped } from './logging.js';
import { checkMetricsAccess, createMetrics, unmatchedRoute } from './metrics/index.js';
import { OpenAIError, registerOpenAIRoutes } from './openai-api/index.js';
import { countOrganizations } from './organizations/index.js';
import {
  createProviderNetwork,
  createSecretBox,
  loadSecretKey,
  olderSecretKeys,
  randomToken,
  restrictFileModes,
  secretKeyFile,
  type Lookup,
} from './security/index.js';
import { databaseFiles, openStorage, storageConfig } from './storage/index.js';
import { undoStart, type Opened } from './undo-start.js';
import { webHandler } from './web.js';

/** The methods an unmatched /api or /v1 path's 405 may list as allowed. */
const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** A running server. */
export interface RunningServer {
  app: FastifyInstance;
  ctx: AppContext;
  /** e.g. `http://127.0.0.1:8080`. */
  url: string;
  demo: Demo | undefined;
  /**
   * Graceful stop: answers in flight finish (or are saved as interrupted), then everything closes.
   * `minDrainMs` keeps the drain (503 to /readyz and new work) that long even with nothing in
   * flight; `main()` passes UNDERSTUDY_SHUTDOWN_DELAY_MS, tests and embedders stop at once.
   */
  close(opts?: { minDrainMs?: number }): Promise<void>;
}

/** Options beyond the environment (tests). */
export interface StartOptions {
  logger?: Logger;
  /** Engine tunables (tests shorten timeouts). */
  engineOptions?: Parameters<typeof createEngine>[0]['options'];
  /** How often buffered fallback activity is written (tests lengthen it to prove the other flushes). */
  activityFlushMs?: number;
  /** Resolves provider host names instead of `dns.lookup` (tests: a name that re-resolves). */
  resolve?: Lookup;
}

/** Starts a server from a configuration; a start that fails closes what it opened, then throws. */
export async function startServer(config: ServerConfig, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.logger ?? createLogger(config.logLevel);
  const opened: Opened[] = [];
  try {
    return await start(config, opts, log, opened);
  } catch (err) {
    await undoStart(opened, log);
    throw err;
  }
}

/** The start itself: each resource it opens goes into `opened` at once. */
async function start(
  config: ServerConfig,
  opts: StartOptions,
  log: Logger,
  opened: Opened[],
): Promise<RunningServer> {
  const file = config.configFile ? readBootstrapFile(config.configFile, config.env) : undefined;
  // Every provider URL the operator declares is checked before anything is opened or created: the
  // file's when there is one (it is the whole declaration), else the environment's.
  if (file) await checkBootstrapUrls(file, config);
  else await checkEnvironmentUrls(config);
  const storageAt = storageConfig(config.dataDir, config.databaseUrl);
  // An older version left these readable by every local user (this one creates them 0600); before
  // SQLite opens, so that the -wal and -shm it makes take the database file's private mode.
  restrictFileModes([...databaseFiles(storageAt), secretKeyFile(config.dataDir)], log);
  const storage = await openStorage(storageAt, { poolMax: config.databasePoolMax });
  opened.push({ what: 'the database', close: () => storage.close() });
  const shared = storage.kind === 'postgres';
  const instanceId = config.instanceId ?? newInstanceId();
  // Only answers no live instance is writing are reclaimed (all of them on SQLite: one instance).
  const { registry, reclaimed } = await registerInstance(storage.db, {
    id: instanceId,
    shared,
    log,
    timings: { heartbeatMs: config.heartbeatMs, staleMs: 6 * config.heartbeatMs },
  });
  opened.push({ what: "the instance's registration", close: () => registry.stop() });
  if (reclaimed > 0)
    log.warn({ recovered: reclaimed }, 'answers left in progress by a previous stop were marked interrupted');
  if (shared && !config.secret)
    log.warn(
      "DATABASE_URL is PostgreSQL but UNDERSTUDY_SECRET is not set: provider keys are encrypted with this machine's data/secret.key, which other instances cannot read; set the same UNDERSTUDY_SECRET on every instance",
    );
  // Older keys only open: what they sealed is sealed again with the current key at start.
  const box = createSecretBox(
    loadSecretKey(config.secret, config.dataDir),
    olderSecretKeys(config.secret, config.dataDir),
  );
  const demo = (await runsDemo(storage.db, config, file))
    ? await startDemo({ chunkDelayMs: config.demoChunkDelayMs })
    : undefined;
  if (demo) opened.push({ what: 'the demo simulator', close: () => demo.close() });

  // Every provider connection checks the address it connects to (SPEC §6), not only the saved URL:
  // private ones only for a provider allowed them, or with the deployment's allowance.
  const network = createProviderNetwork({
    allowPrivate: config.allowPrivateProviderUrls,
    ...(opts.resolve && { resolve: opts.resolve }),
  });
  opened.push({ what: 'the provider connections', close: () => network.destroy() });
  const engines = new Map<string, Engine>();
  const localCatalogs = createCatalogService({
    db: storage.db,
    box,
    demoBaseUrl: () => demo?.url,
    // Several instances: a missed change message is corrected within this time at worst.
    ...(shared && { maxAgeMs: config.redisUrl ? 30_000 : 5_000 }),
  });
  const apiKeys = new ApiKeyCache(storage.db, log);
  // What an organization change (local or relayed) drops on this instance: its catalog and the
  // API keys it cached, so a revoked key is refused on the next request everywhere.
  const localCaches: CatalogService = {
    get: localCatalogs.get,
    load: localCatalogs.load,
    invalidate(orgId) {
      localCatalogs.invalidate(orgId);
      apiKeys.invalidateOrg(orgId);
    },
    invalidateAll() {
      localCatalogs.invalidateAll();
      apiKeys.clear();
    },
  };
  const cluster = await startCluster({ config, instanceId, log, catalogs: localCaches });
  opened.push({ what: 'Redis', close: () => cluster.close() });
  const health = cluster.health;
  const metrics = createMetrics(health, cluster, logLinesDropped);
  // Every change an admin makes reaches every instance's cache (through Redis when configured).
  const catalogs = { ...localCaches, invalidate: (orgId: string) => cluster.orgChanged(orgId) };
  const fallbacks = new FallbackRecorder(storage.db, log, {
    ...(opts.activityFlushMs !== undefined && { flushMs: opts.activityFlushMs }),
  });
  opened.push({ what: 'the fallback activity', close: () => fallbacks.close() });
  const provisionDeps: ProvisionDeps = {
    db: storage.db,
    storageKind: storage.kind,
    box,
    config,
    file,
    demo,
    log,
  };

  const ctx: AppContext = {
    config,
    storage,
    db: storage.db,
    box,
    log,
    metrics,
    catalogs,
    apiKeys,
    health,
    healthFor: (orgId) => scopeHealth(health, orgId),
    engineFor(orgId) {
      let e = engines.get(orgId);
      if (!e) {
        e = createEngine({
          client: network.client,
          health: logHealthChanges(scopeHealth(health, orgId), orgId, log),
          ...(opts.engineOptions && { options: opts.engineOptions }),
        });
        engines.set(orgId, e);
      }
      return e;
    },
    testConnection: (provider, model, signal) =>
      testConnection(provider, model, signal, { dispatcher: network.dispatcherFor(provider) }),
    demo,
    fallbacks,
    answers: undefined as unknown as AnswerRuns,
    async provision(orgId) {
      const first = await storage.db
        .selectFrom('organizations')
        .select('id')
        .orderBy('id')
        .limit(1)
        .executeTakeFirst();
      await provisionOrganization(provisionDeps, orgId, first?.id === orgId);
      catalogs.invalidate(orgId);
    },
    setupToken: undefined,
    instanceId,
    cluster,
  };
  ctx.answers = new AnswerRuns({
    db: storage.db,
    metrics,
    log,
    fallbacks,
    engineFor: (id) => ctx.engineFor(id),
  });
  cluster.onStop((messageId) => ctx.answers.stop(messageId));

  // Several instances starting at once: one applies the bootstrap file at a time.
  await storage.exclusive(() => bootstrapAtStart(provisionDeps));
  if ((await countOrganizations(storage.db)) === 0) ctx.setupToken = randomToken('', 18);

  const app: FastifyInstance = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    childLoggerFactory: lazyChildLogger,
    bodyLimit: config.bodyLimitBytes,
    // Only the configured proxies' X-Forwarded-* count (UNDERSTUDY_TRUST_PROXY, loopback by
    // default): from anyone else they would forge the address that is logged and throttled.
    trustProxy: config.trustProxy,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1000 },
    frameworkErrors: frameworkErrors((status, code, message) =>
      new OpenAIError(status, status < 500 ? 'invalid_request_error' : 'server_error', code, message).body(),
    ),
  });
  opened.push({ what: 'the HTTP server', close: () => app.close() });
  // Registered first: the drain's refusal comes before the guard.
  const drain = installDrain(app, (message) =>
    new OpenAIError(503, 'server_error', 'server_shutting_down', message).body(),
  );
  app.setReplySerializer((payload) => JSON.stringify(payload));
  // A callback hook, not an async one: it runs on every response, and has nothing to wait for.
  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpRequests.inc({
      method: request.method,
      route: request.routeOptions.url ?? unmatchedRoute(request.url),
      status: String(reply.statusCode),
    });
    done();
  });

  app.setErrorHandler((err: FastifyError | HttpError, request, reply) => {
    if (err instanceof HttpError)
      return reply.code(err.status).send({ error: { code: err.code, message: err.message, ...err.details } });
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const e = frameworkClientError(err, request, reply, config.bodyLimitBytes);
      return reply.code(e.status).send({ error: { code: e.code, message: e.message } });
    }
    const down = databaseUnavailable(err, request, reply);
    if (down) return reply.code(down.status).send({ error: { code: down.code, message: down.message } });
    request.log.error({ err }, 'request failed');
    return reply
      .code(500)
      .send({ error: { code: 'internal', message: 'internal error; the server log has details' } });
  });

  // First: a refusal by the guard carries the headers too.
  installApiHeaders(app);
  installGuard(app, storage.db, apiKeys);
  registerAuthRoutes(app, ctx);
  registerAdminRoutes(app, ctx);
  registerChatRoutes(app, ctx);
  const apiAnswers = registerOpenAIRoutes(app, ctx);

  app.get('/healthz', { config: { access: PUBLIC } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { access: PUBLIC } }, async (_request, reply) => {
    if (drain.active) return reply.code(503).send({ status: 'shutting_down' });
    try {
      await storage.ping();
      // A degraded Redis does not make the instance unready: it serves from its own memory.
      return {
        status: 'ready',
        database: storage.kind,
        demo: demo !== undefined,
        instance: instanceId,
        ...(await cluster.verify()),
      };
    } catch {
      return reply.code(503).send({ status: 'database_unavailable' });
    }
  });
  app.get('/metrics', { config: { access: PUBLIC } }, async (request, reply) => {
    // A bearer token when UNDERSTUDY_METRICS_TOKEN is set; else only this machine, unproxied.
    checkMetricsAccess(request, config.env.UNDERSTUDY_METRICS_TOKEN);
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  const web = webHandler(config.webDist, () => ctx.setupToken !== undefined);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const api = path.startsWith('/api/') || path === '/api';
    const v1 = path.startsWith('/v1/') || path === '/v1';
    if (!api && !v1) return web(request, reply);
    // A path that exists with other methods is a wrong method (405, with what it allows), not a wrong path.
    const allowed = HTTP_METHODS.filter((m) => app.hasRoute({ method: m, url: path }));
    const [status, code, message] =
      allowed.length > 0
        ? [405, 'method_not_allowed', `${path} takes ${allowed.join(', ')}, not ${request.method}`]
        : [404, 'not_found', `no route ${request.method} ${path}`];
    if (allowed.length > 0) reply.header('allow', allowed.join(', '));
    // The OpenAI-compatible surface answers in OpenAI's error shape, as its other errors do.
    if (v1)
      return reply.code(status).send(new OpenAIError(status, 'invalid_request_error', code, message).body());
    return reply.code(status).send({ error: { code, message } });
  });

  await app.listen({ port: config.port, host: config.host });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const url = `http://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${port}`;
  if (ctx.setupToken) {
    log.warn(
      `First run: create your organization and Owner at ${config.publicUrl ?? url}/setup?token=${ctx.setupToken} (or POST /api/setup with this token)`,
    );
  }
  if (demo)
    log.info(
      { simulator: demo.url },
      'built-in simulator providers are running (Simulator A and B); switch outages at PUT /api/admin/demo/providers/:id/outage',
    );

  let closing: Promise<void> | undefined;
  const close = ({ minDrainMs = 0 }: { minDrainMs?: number } = {}) =>
    (closing ??= (async () => {
      drain.start();
      // Counted from the drain's start, beside the answers' grace period: a load balancer must read
      // a 503 before the port closes, which it cannot when nothing in flight holds the drain open.
      const minDrain = new Promise((r) => setTimeout(r, minDrainMs));
      const graceMs = config.shutdownGraceMs;
      const inFlight = { chat: ctx.answers.size, api: apiAnswers.size };
      log.info(
        { inFlight, graceMs, minDrainMs },
        `draining: ${inFlight.chat + inFlight.api} answers in flight have up to ${graceMs} ms to finish; /readyz and new requests answer 503` +
          (minDrainMs > 0 ? ` for at least ${minDrainMs} ms` : ''),
      );
      // Web chat and API answers share one grace period; past it, both tell their clients and end.
      const [chat, api] = await Promise.all([ctx.answers.shutdown(graceMs), apiAnswers.shutdown(graceMs)]);
      log.info(
        { chat, api },
        `drained: ${chat.finished + api.finished} of ${chat.inFlight + api.inFlight} answers finished; ` +
          `${chat.interrupted} web chat answers cut and saved as interrupted, ${api.cut} API answers cut (told server_shutting_down)`,
      );
      await minDrain;
      const appClosed = app.close();
      // Whatever still holds a connection (an idle keep-alive, a follower of another instance's
      // answer) is cut shortly after every answer ended.
      const force = setTimeout(() => app.server.closeAllConnections(), 1000);
      await appClosed;
      clearTimeout(force);
      // Every answer and API request has ended by now: this writes the last fallback events.
      await fallbacks.close();
      await registry.stop();
      await cluster.close();
      await demo?.close();
      await network.destroy();
      await storage.close();
    })());
  return { app, ctx, url, demo, close };
}
