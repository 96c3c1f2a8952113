/** Prometheus metrics: requests, answers, fallbacks, latency and time-to-first-token, circuit states. */
import type { AnswerResult, HealthMemory } from '@understudy/engine';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export { checkMetricsAccess, type MetricsRequest } from './access.js';

/** The metrics of one server (its own registry, so several servers can share a process in tests). */
export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  /** Records a finished answer. */
  answer(surface: 'chat' | 'api', result: AnswerResult): void;
}

/**
 * The route label of a request no route matched: every path outside /api and /v1 is the web app's
 * (its pages, such as /setup, and its assets), the rest a real miss.
 */
export function unmatchedRoute(url: string): 'web' | 'unmatched' {
  return /^\/(?:api|v1)(?:[/?#]|$)/.test(url) ? 'unmatched' : 'web';
}

/** The cluster link as metrics see it. */
interface ClusterInfo {
  info(): { redis: 'off' | 'ok' | 'degraded'; downs?: number; localFallbacks?: number };
}

/**
 * Creates the registry; `health` feeds the circuit-state gauge at scrape time, `logDrops` the
 * count of log lines an unread stdout made the process drop (an alert while the log itself is stuck).
 */
export function createMetrics(
  health: HealthMemory,
  cluster?: ClusterInfo,
  logDrops: () => number = () => 0,
): Metrics {
  const registry = new Registry();
  // prom-client's names already start with process_ or nodejs_: the prefix is ours alone.
  collectDefaultMetrics({ register: registry, prefix: 'understudy_' });
  const httpRequests = new Counter({
    name: 'understudy_http_requests_total',
    help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const answers = new Counter({
    name: 'understudy_answers_total',
    help: 'Assistant answers by surface, final model, provider and status',
    labelNames: ['surface', 'model', 'provider', 'status'] as const,
    registers: [registry],
  });
  const fallbacks = new Counter({
    name: 'understudy_fallbacks_total',
    help: 'Fallbacks by reason, original provider and backup provider',
    labelNames: ['reason', 'original_provider', 'backup_provider', 'mode'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'understudy_answer_latency_seconds',
    help: 'Time from request to the end of the answer',
    labelNames: ['model', 'provider'] as const,
    buckets: [0.25, 0.5, 1, 2, 5, 10, 20, 40, 80, 160],
    registers: [registry],
  });
  const ttft = new Histogram({
    name: 'understudy_time_to_first_token_seconds',
    help: 'Time from request to the first content shown',
    labelNames: ['model', 'provider'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60],
    registers: [registry],
  });
  new Gauge({
    name: 'understudy_circuit_state',
    help: 'Circuit breaker state per provider/model (0 closed, 1 half-open, 2 open)',
    labelNames: ['scope', 'id'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const v of await health.snapshot()) {
        this.set(
          { scope: v.key.scope, id: v.key.id },
          v.state === 'open' ? 2 : v.state === 'half_open' ? 1 : 0,
        );
      }
    },
  });
  let dropsSeen = 0;
  new Counter({
    name: 'understudy_log_lines_dropped_total',
    help: 'Log lines dropped because stdout was not read and the held log was full (8 MiB)',
    registers: [registry],
    collect() {
      const drops = logDrops();
      this.inc(drops - dropsSeen);
      dropsSeen = drops;
    },
  });
  // Without REDIS_URL there is nothing to be up or down: absent, not 0 (an alert on 0 would fire).
  if (cluster && cluster.info().redis !== 'off') {
    new Gauge({
      name: 'understudy_redis_up',
      help: 'Shared health memory through Redis: 1 shared, 0 degraded to local memory (absent without REDIS_URL)',
      registers: [registry],
      collect() {
        this.set(cluster.info().redis === 'ok' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'understudy_redis_local_fallbacks',
      help: 'Health memory calls answered from local memory because Redis was slow or down (since start; absent without REDIS_URL)',
      registers: [registry],
      collect() {
        this.set(cluster.info().localFallbacks ?? 0);
      },
    });
  }
  return {
    registry,
    httpRequests,
    answer(surface, r) {
      answers.inc({ surface, model: r.modelId, provider: r.providerId, status: r.status });
      if (r.fallback) {
        fallbacks.inc({
          reason: r.fallback.reason,
          original_provider: r.fallback.originalProviderId,
          backup_provider: r.fallback.backupProviderId,
          mode: r.fallback.mode,
        });
      }
      if (r.status === 'complete') {
        latency.observe({ model: r.modelId, provider: r.providerId }, r.latencyMs / 1000);
        if (r.ttftMs !== undefined)
          ttft.observe({ model: r.modelId, provider: r.providerId }, r.ttftMs / 1000);
      }
    },
  };
}
