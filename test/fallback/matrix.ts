/**
 * The SPEC §2.1 table, row by row, for one primary protocol × both consumption modes. Each
 * `matrix-<protocol>.test.ts` calls `defineMatrix` so the three protocols run in parallel files.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  InMemoryHealth,
  type AnswerResult,
  type FailureReason,
  type ProviderConfig,
  type TakeoverMode,
} from '@understudy/engine';
import { expectedAnswer, type AttemptRecord, type FaultRule } from '@understudy/simulator';
import {
  ask,
  assertNoKeys,
  baseAt,
  catalog,
  checkStream,
  consume,
  gaps,
  model,
  MODES,
  provider,
  run,
  settled,
  sleep,
  startEnv,
  TIMEOUTS,
  type Env,
  type Mode,
  type Protocol,
} from './harness.js';

const TOKENS = 24;
/** The engine's quickRetryDelayMs default. */
const QUICK_RETRY_MS = 100;

type Outcome = 'primary' | 'backup' | 'error';

interface Row {
  name: string;
  /** Fault on the primary's simulator provider. */
  fault?: Omit<FaultRule, 'provider'>;
  /** The primary points elsewhere (a closed port, an unknown host, TLS to plain HTTP). */
  elsewhere?: (env: Env, p: Protocol) => string;
  /** Timeouts of the primary, overriding the short defaults. */
  timeouts?: { connectMs?: number; firstTokenMs?: number; stallMs?: number };
  /** The primary's upstream model name, for model-name options (e.g. `alpha+delay=15`). */
  upstream?: string;
  /** Backup: the openai-compatible `bk` (no prefill) or the anthropic `bp` with `prefill`. */
  backup?: 'bk' | 'bp';
  takeover?: 'restart' | 'instruct';
  outcome: Outcome;
  reason?: FailureReason;
  mode?: TakeoverMode;
  timeout?: 'connect' | 'first_token' | 'stall';
  /** Primary attempts: the simulator's log, or the engine's records when the simulator cannot see them. */
  primaryAttempts: number;
  /** Bounds of the gap between the two primary attempts. */
  gap?: [number, number];
  /** Extra checks. */
  check?: (c: CaseCtx) => void | Promise<void>;
}

interface CaseCtx {
  env: Env;
  p: Protocol;
  mode: Mode;
  prompt: string;
  primary: AttemptRecord[];
  backup: AttemptRecord[];
  result: AnswerResult;
  health: InMemoryHealth;
  elapsedMs: number;
}

const statusRows = (fault: FaultRule['fault'], reason: FailureReason, retried: boolean): Row[] => {
  const rows: Row[] = [
    {
      name: `${fault} (persistent)`,
      fault: { fault },
      outcome: 'backup',
      reason,
      mode: 'invisible',
      primaryAttempts: retried ? 2 : 1,
      ...(retried && { gap: [QUICK_RETRY_MS, 1500] as [number, number] }),
    },
  ];
  if (retried)
    rows.push({
      name: `${fault} once (the quick retry succeeds)`,
      fault: { fault, times: 1 },
      outcome: 'primary',
      primaryAttempts: 2,
      gap: [QUICK_RETRY_MS, 1500],
    });
  return rows;
};

/** After a long Retry-After the breaker is open: the next answer does not touch the primary. */
function breakerOpenCheck(reason: FailureReason): Row['check'] {
  return async ({ env, p, mode, health, prompt }) => {
    const c = await run(env.engine(health), cat(env, p, {}), ask(`${prompt} again`), mode);
    assert.equal(c.result.status, 'complete');
    assert.equal(c.result.modelId, 'beta');
    assert.equal(c.result.fallback?.skippedByHealth, true);
    assert.equal(c.result.fallback.reason, reason);
    assert.equal(c.result.fallback.backupProviderId, 'bk');
    assert.equal(c.result.attempts.length, 1, 'only the backup was called');
    assert.equal((await settled(env.sim, p.provider)).length, 1, 'the open breaker spares the primary');
    assert.equal(c.result.text, expectedAnswer(`${prompt} again`, TOKENS));
    checkStream(c, mode);
  };
}

/** The primary's failure arrived as an error event inside its open stream. */
function inStreamCheck({ result }: CaseCtx): void {
  assert.equal(
    result.fallback?.primaryFailure.inStream,
    true,
    JSON.stringify(result.fallback?.primaryFailure),
  );
}

/** Time to first token ≈ the simulator's slow-first-token delay (plus a loaded machine's slack). */
function ttftCheck(delayMs: number): Row['check'] {
  return ({ result, primary }) => {
    const ttft = result.ttftMs;
    assert.ok(ttft !== undefined && ttft >= delayMs, `ttft ${ttft} ms ≥ the ${delayMs} ms delay`);
    assert.ok(ttft < delayMs + 600, `ttft ${ttft} ms ≈ the ${delayMs} ms delay`);
    const a = primary[0];
    assert.ok(a?.headersAt !== undefined && a.firstTokenAt !== undefined);
    assert.ok(a.firstTokenAt - a.headersAt >= delayMs - 1, 'the simulator held the first token back');
  };
}

/**
 * The record's timings (SPEC §2.6) for every row: latency spans the whole answer and is measured
 * from before the primary was asked, so it covers every attempt and any timeout waited; time to
 * first token is set exactly when the member was shown content, and comes after any timeout that
 * preceded the first content.
 */
function checkTimings(row: Row, result: AnswerResult, elapsedMs: number): void {
  const { latencyMs, ttftMs } = result;
  assert.ok(latencyMs >= 0 && latencyMs <= elapsedMs + 2, `latency ${latencyMs} ms within ${elapsedMs} ms`);
  const spent = result.attempts.reduce((n, a) => n + a.durationMs, 0);
  assert.ok(latencyMs >= spent - 2, `latency ${latencyMs} ms covers the attempts (${spent} ms)`);
  if (row.outcome === 'error') {
    assert.equal(ttftMs, undefined, 'no content, no time to first token');
    return;
  }
  assert.ok(
    ttftMs !== undefined && ttftMs >= 0 && ttftMs <= latencyMs,
    `ttft ${ttftMs} ≤ latency ${latencyMs}`,
  );
  const limits = { ...TIMEOUTS, ...row.timeouts };
  if (row.timeout === 'connect' || row.timeout === 'first_token') {
    const waited = row.timeout === 'connect' ? limits.connectMs : limits.firstTokenMs;
    assert.ok(ttftMs >= waited, `the first content (${ttftMs} ms) came after the ${waited} ms timeout`);
  }
  if (row.timeout === 'stall')
    assert.ok(latencyMs >= limits.stallMs, `latency ${latencyMs} ≥ the stall timeout`);
}

const ROWS: Row[] = [
  { name: 'healthy', outcome: 'primary', primaryAttempts: 1 },
  ...statusRows('server_error', 'provider_error', true),
  ...statusRows('bad_gateway', 'provider_error', true),
  ...statusRows('unavailable', 'provider_error', false),
  ...statusRows('gateway_timeout', 'provider_error', false),
  ...statusRows('overloaded', 'overloaded', false),
  ...statusRows('unauthorized', 'provider_misconfigured', false),
  ...statusRows('payment_required', 'provider_misconfigured', false),
  ...statusRows('forbidden', 'provider_misconfigured', false),
  ...statusRows('not_found', 'provider_misconfigured', false),
  ...statusRows('rate_limit', 'rate_limited', false),
  {
    name: 'rate_limit with Retry-After 1 (honoured exactly, then backup)',
    fault: { fault: 'rate_limit', retryAfter: 1 },
    outcome: 'backup',
    reason: 'rate_limited',
    mode: 'invisible',
    primaryAttempts: 2,
    gap: [1000, 1500],
  },
  {
    name: 'rate_limit with Retry-After 1 once (the retry succeeds)',
    fault: { fault: 'rate_limit', retryAfter: 1, times: 1 },
    outcome: 'primary',
    primaryAttempts: 2,
    gap: [1000, 1500],
  },
  {
    name: 'rate_limit with Retry-After 5 (no retry, breaker opens)',
    fault: { fault: 'rate_limit', retryAfter: 5 },
    outcome: 'backup',
    reason: 'rate_limited',
    mode: 'invisible',
    primaryAttempts: 1,
    check: breakerOpenCheck('rate_limited'),
  },
  {
    name: 'unavailable with Retry-After 1 (a 503 is never retried)',
    fault: { fault: 'unavailable', retryAfter: 1 },
    outcome: 'backup',
    reason: 'provider_error',
    mode: 'invisible',
    primaryAttempts: 1,
  },
  {
    name: 'unavailable with Retry-After 5 (breaker opens at once)',
    fault: { fault: 'unavailable', retryAfter: 5 },
    outcome: 'backup',
    reason: 'provider_error',
    mode: 'invisible',
    primaryAttempts: 1,
    check: breakerOpenCheck('provider_error'),
  },
  {
    name: 'overloaded_midstream before any content',
    fault: { fault: 'overloaded_midstream', after: 0 },
    outcome: 'backup',
    reason: 'overloaded',
    mode: 'invisible',
    primaryAttempts: 1,
  },
  {
    name: 'overloaded_midstream after 5 tokens',
    fault: { fault: 'overloaded_midstream', after: 5 },
    outcome: 'backup',
    reason: 'overloaded',
    mode: 'restart',
    primaryAttempts: 1,
  },
  {
    name: 'server_error_midstream before any content',
    fault: { fault: 'server_error_midstream', after: 0 },
    outcome: 'backup',
    reason: 'provider_error',
    mode: 'invisible',
    primaryAttempts: 1,
  },
  {
    name: 'server_error_midstream after 5 tokens (no quick retry)',
    fault: { fault: 'server_error_midstream', after: 5 },
    outcome: 'backup',
    reason: 'provider_error',
    mode: 'restart',
    primaryAttempts: 1,
  },
  {
    name: 'rate_limit_midstream before any content (a rate-limit error event)',
    fault: { fault: 'rate_limit_midstream', after: 0 },
    outcome: 'backup',
    reason: 'rate_limited',
    mode: 'invisible',
    primaryAttempts: 1,
    check: inStreamCheck,
  },
  {
    name: 'rate_limit_midstream after 5 tokens (no quick retry without a Retry-After)',
    fault: { fault: 'rate_limit_midstream', after: 5 },
    outcome: 'backup',
    reason: 'rate_limited',
    mode: 'restart',
    primaryAttempts: 1,
    check: inStreamCheck,
  },
  {
    // Headers came (the provider was reached: not `unreachable`), then the stream broke before any
    // content: the "breaks" row of §2.1, and per §2.4 invisible since the member saw nothing. Not
    // a reset before any response, so no quick retry.
    name: 'cut_after 0 (the stream ends after its headers, before any content)',
    fault: { fault: 'cut_after', after: 0 },
    outcome: 'backup',
    reason: 'interrupted',
    mode: 'invisible',
    primaryAttempts: 1,
    check({ result, primary }) {
      assert.equal(result.fallback?.primaryFailure.timeout, undefined, 'not a timeout');
      assert.equal(primary[0]?.status, 200, 'the headers were sent');
      assert.equal(primary[0]?.tokensSent, 0);
    },
  },
  {
    name: 'reset before any response (one quick retry)',
    fault: { fault: 'reset' },
    outcome: 'backup',
    reason: 'unreachable',
    mode: 'invisible',
    primaryAttempts: 2,
    gap: [QUICK_RETRY_MS, 1500],
  },
  {
    name: 'reset once (the quick retry succeeds)',
    fault: { fault: 'reset', times: 1 },
    outcome: 'primary',
    primaryAttempts: 2,
    gap: [QUICK_RETRY_MS, 1500],
  },
  {
    name: 'connection refused',
    elsewhere: (env, p) => baseAt(`http://127.0.0.1:${env.closedPort}`, p.type),
    outcome: 'backup',
    reason: 'unreachable',
    mode: 'invisible',
    primaryAttempts: 1,
  },
  {
    name: 'DNS failure',
    elsewhere: (_env, p) => baseAt('http://does-not-exist.invalid', p.type),
    timeouts: { connectMs: 3000 },
    outcome: 'backup',
    reason: 'unreachable',
    mode: 'invisible',
    primaryAttempts: 1,
  },
  {
    name: 'TLS failure (https to a plain-HTTP port)',
    elsewhere: (env, p) => baseAt(`https://127.0.0.1:${env.sim.port}/p/${p.provider}`, p.type),
    timeouts: { connectMs: 3000 },
    outcome: 'backup',
    reason: 'unreachable',
    mode: 'invisible',
    primaryAttempts: 1,
  },
  {
    name: 'no_response (connect timeout)',
    fault: { fault: 'no_response' },
    outcome: 'backup',
    reason: 'timeout',
    timeout: 'connect',
    mode: 'invisible',
    primaryAttempts: 1,
    check({ result }) {
      const a = result.attempts[0];
      assert.ok(a && a.durationMs >= TIMEOUTS.connectMs - 5, `waited the connect timeout (${a?.durationMs})`);
      assert.ok(a.durationMs < TIMEOUTS.connectMs + 1500, `no later than the timeout (${a.durationMs})`);
    },
  },
  {
    name: 'no_first_token (first-token timeout)',
    fault: { fault: 'no_first_token' },
    outcome: 'backup',
    reason: 'timeout',
    timeout: 'first_token',
    mode: 'invisible',
    primaryAttempts: 1,
    check({ primary }) {
      const a = primary[0];
      assert.ok(a?.headersAt !== undefined && a.endedAt !== undefined, 'headers were sent');
      const waited = a.endedAt - a.headersAt;
      assert.ok(waited >= TIMEOUTS.firstTokenMs - 20, `waited the first-token timeout (${waited} ms)`);
      assert.ok(waited < TIMEOUTS.firstTokenMs + 1000, `gave up within the timeout + margin (${waited} ms)`);
    },
  },
  {
    name: 'no_first_token with a 1.5 s timeout (keep-alives every 1 s do not reset it)',
    fault: { fault: 'no_first_token' },
    timeouts: { firstTokenMs: 1500 },
    outcome: 'backup',
    reason: 'timeout',
    timeout: 'first_token',
    mode: 'invisible',
    primaryAttempts: 1,
    check({ primary }) {
      const a = primary[0];
      assert.ok(a?.headersAt !== undefined && a.endedAt !== undefined, 'headers were sent');
      const waited = a.endedAt - a.headersAt;
      assert.ok(waited >= 1500 - 20, `waited the first-token timeout (${waited} ms)`);
      assert.ok(waited < 1500 + 1000, `gave up within the timeout + margin (${waited} ms)`);
    },
  },
  {
    name: 'slow_first_token within the timeout',
    fault: { fault: 'slow_first_token', delayMs: 100 },
    outcome: 'primary',
    primaryAttempts: 1,
    check: ttftCheck(100),
  },
  {
    name: 'slow_first_token 300 ms with a 1.5 s first-token timeout',
    fault: { fault: 'slow_first_token', delayMs: 300 },
    timeouts: { firstTokenMs: 1500 },
    outcome: 'primary',
    primaryAttempts: 1,
    check: ttftCheck(300),
  },
  {
    name: 'paced answer (15 ms between chunks)',
    upstream: 'alpha+delay=15',
    outcome: 'primary',
    primaryAttempts: 1,
    check({ result }) {
      const paced = (TOKENS - 1) * 15;
      assert.ok(
        result.latencyMs >= paced - 5,
        `latency ${result.latencyMs} ms covers the pacing (${paced} ms)`,
      );
      assert.ok(
        result.ttftMs !== undefined && result.ttftMs < result.latencyMs - paced / 2,
        'the first token came early',
      );
    },
  },
  ...(['cut_after', 'stall_after'] as const).flatMap((fault): Row[] => [
    {
      name: `${fault} 5, restart backup`,
      fault: { fault, after: 5 },
      outcome: 'backup',
      reason: 'interrupted',
      mode: 'restart',
      primaryAttempts: 1,
      ...(fault === 'stall_after' && { timeout: 'stall' as const }),
    },
    {
      name: `${fault} 5, instruct backup (API)`,
      fault: { fault, after: 5 },
      takeover: 'instruct',
      outcome: 'backup',
      reason: 'interrupted',
      mode: 'instruct',
      primaryAttempts: 1,
      check({ backup }) {
        assert.equal(backup[0]?.continuation, true, 'the backup was asked to continue by instruction');
      },
    },
    {
      name: `${fault} 5, prefill backup`,
      fault: { fault, after: 5 },
      backup: 'bp',
      outcome: 'backup',
      reason: 'interrupted',
      mode: 'prefill',
      primaryAttempts: 1,
      check({ backup }) {
        assert.equal(backup[0]?.prefill, true, 'the backup continued a prefilled answer');
      },
    },
  ]),
  {
    name: 'no_done without finish, restart backup',
    fault: { fault: 'no_done', withFinish: false },
    outcome: 'backup',
    reason: 'interrupted',
    mode: 'restart',
    primaryAttempts: 1,
  },
  {
    name: 'no_done without finish, prefill backup',
    fault: { fault: 'no_done', withFinish: false },
    backup: 'bp',
    outcome: 'backup',
    reason: 'interrupted',
    mode: 'prefill',
    primaryAttempts: 1,
  },
  {
    name: 'no_done with a finish reason (complete)',
    fault: { fault: 'no_done', withFinish: true },
    outcome: 'primary',
    primaryAttempts: 1,
  },
  {
    name: 'malformed chunk (skipped and counted)',
    fault: { fault: 'malformed', after: 3 },
    outcome: 'primary',
    primaryAttempts: 1,
    check({ result }) {
      assert.ok(result.malformedChunks >= 1, `malformed chunks counted (${result.malformedChunks})`);
    },
  },
  {
    name: 'bad_request',
    fault: { fault: 'bad_request' },
    outcome: 'error',
    reason: 'bad_request',
    primaryAttempts: 1,
  },
  {
    name: 'content_filter',
    fault: { fault: 'content_filter' },
    outcome: 'error',
    reason: 'content_filtered',
    primaryAttempts: 1,
  },
];

/** The usual two-model catalog: primary on protocol `p`, backup `beta` on bk or `gamma` on bp. */
function cat(
  env: Env,
  p: Protocol,
  o: { base?: string; backup?: 'bk' | 'bp'; timeouts?: Row['timeouts']; upstream?: string },
) {
  const providers: ProviderConfig[] = [
    provider(env, p.provider, p.type, o.base),
    provider(env, 'bk', 'openai-compatible'),
    provider(env, 'bp', 'anthropic'),
  ];
  const timeouts = { ...TIMEOUTS, ...o.timeouts };
  const alpha = model('alpha', p.provider, {
    timeouts,
    ...(o.upstream !== undefined && { upstream: o.upstream }),
  });
  const models =
    o.backup === 'bp'
      ? [alpha, model('gamma', 'bp', { capabilities: ['prefill'] })]
      : [alpha, model('beta', 'bk')];
  return catalog(providers, models);
}

/** Declares the SPEC §2.1 matrix (every row, in both consumption modes) with the primary on protocol `p`. */
export function defineMatrix(p: Protocol): void {
  describe(`SPEC §2.1 matrix, primary on ${p.name}`, () => {
    let env: Env;
    before(async () => {
      env = await startEnv();
    });
    after(async () => {
      await env.close();
    });
    beforeEach(() => {
      env.sim.reset();
    });

    for (const row of ROWS) {
      for (const mode of MODES) {
        it(`${row.name} · ${mode}`, async () => {
          const prompt = `Tell me about ${row.name} over ${p.name} (${mode})`;
          const backupId = row.backup ?? 'bk';
          if (row.fault) env.sim.setFault({ ...row.fault, provider: p.provider });
          const health = new InMemoryHealth();
          const c0 = cat(env, p, {
            ...(row.elsewhere && { base: row.elsewhere(env, p) }),
            ...(row.backup && { backup: row.backup }),
            ...(row.timeouts && { timeouts: row.timeouts }),
            ...(row.upstream !== undefined && { upstream: row.upstream }),
          });
          const t0 = Date.now();
          const c = await consume(
            env.engine(health).answer({
              catalog: c0,
              request: ask(prompt),
              takeover: row.takeover ?? 'restart',
            }),
            mode,
          );
          const elapsedMs = Date.now() - t0;
          const { result } = c;
          const primary = await settled(env.sim, p.provider);
          const backup = await settled(env.sim, backupId);
          const expected = expectedAnswer(prompt, TOKENS);

          // Outcome, reason and text.
          if (row.outcome === 'primary') {
            assert.equal(result.status, 'complete', JSON.stringify(result.error));
            assert.equal(result.modelId, 'alpha');
            assert.equal(result.fallback, undefined);
            assert.equal(result.text, expected);
            assert.equal(backup.length, 0, 'no backup attempt');
            assert.equal(result.usage.estimated, false, 'the provider reported usage');
            assert.equal(result.usage.outputTokens, TOKENS, 'reported output tokens');
            assert.ok(result.usage.inputTokens > 0);
          } else if (row.outcome === 'backup') {
            assert.equal(result.status, 'complete', JSON.stringify(result.error ?? result.attempts));
            assert.equal(result.modelId, row.backup === 'bp' ? 'gamma' : 'beta');
            const fb = result.fallback;
            assert.ok(fb, 'a fallback record');
            assert.equal(fb.reason, row.reason, JSON.stringify(fb.primaryFailure));
            assert.equal(fb.originalModelId, 'alpha');
            assert.equal(fb.originalProviderId, p.provider);
            assert.equal(fb.backupModelId, row.backup === 'bp' ? 'gamma' : 'beta');
            assert.equal(fb.backupProviderId, backupId);
            assert.equal(result.providerId, backupId, 'the record names the provider that answered');
            assert.equal(fb.mode, row.mode);
            if (row.timeout) assert.equal(fb.primaryFailure.timeout, row.timeout);
            assert.equal(result.text, expected, 'the whole expected answer, never truncated');
            assert.ok(
              result.usage.outputTokens >= TOKENS - 5,
              `usage counts the answer (${result.usage.outputTokens})`,
            );
            if (fb.mode === 'invisible')
              assert.equal(result.usage.estimated, false, 'the backup reported usage');
            assert.equal(backup.length, 1, 'the backup was asked exactly once');
            assert.equal(backup[0]?.outcome, 'ok');
            assertNoKeys(JSON.stringify(result.fallback));
          } else {
            assert.equal(result.status, 'failed');
            assert.equal(c.last.type, 'error');
            assert.ok(result.error, 'an error');
            assert.equal(result.error.reason, row.reason);
            assert.equal(result.fallback, undefined);
            assert.equal(backup.length, 0, 'no backup attempt');
            assertNoKeys(result.error.message);
          }
          checkStream(c, mode);
          checkTimings(row, result, elapsedMs);

          // Number and spacing of primary attempts.
          if (row.elsewhere) {
            const tried = result.attempts.filter((a) => a.modelId === 'alpha');
            assert.equal(tried.length, row.primaryAttempts, JSON.stringify(result.attempts));
            assert.equal(primary.length, 0, 'the simulator never saw a valid request');
          } else {
            assert.equal(primary.length, row.primaryAttempts, JSON.stringify(primary));
            assert.equal(
              result.attempts.filter((a) => a.modelId === 'alpha').length,
              row.primaryAttempts,
              'the engine records the same attempts',
            );
          }
          if (row.gap) {
            const [gap] = gaps(primary);
            assert.ok(gap !== undefined && gap >= row.gap[0], `retry spacing ${gap} ≥ ${row.gap[0]} ms`);
            assert.ok(gap < row.gap[1], `retry spacing ${gap} < ${row.gap[1]} ms`);
          }
          if (row.primaryAttempts === 1 && row.outcome === 'backup') {
            assert.ok(!result.attempts.some((a) => a.role === 'retry'), 'no quick retry');
          }
          await row.check?.({ env, p, mode, prompt, primary, backup, result, health, elapsedMs });
        });
      }
    }

    for (const mode of MODES) {
      it(`context_length · only a backup with a larger window is asked · ${mode}`, async () => {
        const prompt = `A long story over ${p.name} (${mode})`;
        env.sim.setFault({ provider: p.provider, fault: 'context_length' });
        const cat1 = catalog(
          [provider(env, p.provider, p.type), provider(env, 'bk', 'openai-compatible')],
          [
            model('alpha', p.provider, { contextWindow: 8000 }),
            model('small', 'bk', { contextWindow: 4000 }),
            model('large', 'bk', { contextWindow: 200_000, tier: 2 }),
          ],
        );
        const c = await run(env.engine(), cat1, ask(prompt), mode);
        assert.equal(c.result.status, 'complete', JSON.stringify(c.result.error));
        assert.equal(c.result.fallback?.reason, 'context_too_long');
        assert.equal(c.result.modelId, 'large');
        assert.equal(c.result.text, expectedAnswer(prompt, TOKENS));
        assert.equal((await settled(env.sim, 'bk', 'small')).length, 0, 'the smaller window is skipped');
        assert.equal((await settled(env.sim, 'bk', 'large')).length, 1);
        assert.equal((await settled(env.sim, p.provider)).length, 1);
        checkStream(c, mode);
      });

      it(`cancellation after the first text · ${mode}`, async () => {
        const prompt = `A paced answer over ${p.name} (${mode})`;
        const cat1 = catalog(
          [provider(env, p.provider, p.type), provider(env, 'bk', 'openai-compatible')],
          [model('alpha', p.provider, { upstream: 'alpha+tokens=50+delay=20' }), model('beta', 'bk')],
        );
        const ctl = new AbortController();
        let abortedAt = 0;
        const abort = () => {
          if (abortedAt === 0) {
            abortedAt = Date.now();
            ctl.abort();
          }
        };
        // Non-streaming: the caller gives up after a while without reading events.
        const timer = mode === 'non-streaming' ? setTimeout(abort, 150) : undefined;
        const c = await consume(
          env
            .engine()
            .answer({ catalog: cat1, request: ask(prompt), takeover: 'restart', signal: ctl.signal }),
          mode,
          abort,
        );
        clearTimeout(timer);
        assert.ok(abortedAt > 0);
        assert.equal(c.result.status, 'cancelled');
        assert.equal(c.result.fallback, undefined);
        assert.ok(
          expectedAnswer(prompt, 50).startsWith(c.result.text) && c.result.text.length > 0,
          'partial text kept',
        );
        const deadline = Date.now() + 2000;
        let seen = env.sim.attempts({ provider: p.provider });
        while (!seen.every((a) => a.endedAt !== undefined) && Date.now() < deadline) {
          await sleep(10);
          seen = env.sim.attempts({ provider: p.provider });
        }
        assert.equal(seen.length, 1);
        const a = seen[0];
        assert.ok(a);
        assert.equal(a.clientAborted, true, 'the upstream request was cancelled');
        assert.ok(
          a.endedAt !== undefined && a.endedAt - abortedAt < 300,
          `closed ${a.endedAt! - abortedAt} ms after abort`,
        );
        assert.ok(a.tokensSent < 50, 'the answer did not run to its end');
        assert.equal(env.sim.attempts({ provider: 'bk' }).length, 0, 'no backup attempt');
      });
    }
  });
}
