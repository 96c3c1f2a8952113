/**
 * The environment settings (loadConfig): every bad value stops the start with a message naming the
 * variable, the value and what is expected; an empty value is the default.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';

const load = (env: Record<string, string>) => loadConfig(env, '/srv/understudy');

/** The message loadConfig refuses this environment with. */
function refusal(env: Record<string, string>): string {
  try {
    load(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, not ${String(err)}`);
    return err.message;
  }
  assert.fail(`accepted ${JSON.stringify(env)}`);
}

test('config: defaults, and an empty value is the default', () => {
  const envs: Record<string, string>[] = [
    {},
    { PORT: '', UNDERSTUDY_DEMO: ' ', UNDERSTUDY_BODY_LIMIT_BYTES: '' },
  ];
  for (const env of envs) {
    const c = load(env);
    assert.equal(c.port, 8080, 'PORT= (empty, as in an EnvironmentFile) is 8080, not a random port');
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.demo, 'auto');
    assert.equal(c.bodyLimitBytes, 4 * 1024 * 1024);
    assert.equal(c.shutdownGraceMs, 20_000);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.dataDir, '/srv/understudy/data');
    assert.equal(c.allowSignup, false);
    assert.equal(c.trustProxy, 'loopback');
  }
});

test('config: good values are read', () => {
  const c = load({
    PORT: '0',
    UNDERSTUDY_DEMO: 'OFF',
    UNDERSTUDY_BODY_LIMIT_BYTES: '65536',
    UNDERSTUDY_SHUTDOWN_GRACE_MS: '0',
    UNDERSTUDY_ALLOW_SIGNUP: 'yes',
    UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS: 'true',
    LOG_LEVEL: 'debug',
    DATABASE_URL: 'postgresql://u:pw@db:5432/understudy',
    REDIS_URL: 'rediss://:pw@redis:6380/2',
    UNDERSTUDY_PUBLIC_URL: 'https://chat.example.com',
    UNDERSTUDY_HEARTBEAT_MS: '250',
    OLLAMA_MODELS: ' a, b ,',
  });
  assert.equal(c.port, 0);
  assert.equal(c.demo, 'off');
  assert.equal(c.bodyLimitBytes, 65536);
  assert.equal(c.shutdownGraceMs, 0);
  assert.equal(c.allowSignup, true);
  assert.equal(c.allowPrivateProviderUrls, true);
  assert.equal(c.logLevel, 'debug');
  assert.equal(c.heartbeatMs, 250);
  assert.deepEqual(c.envProviders.ollamaModels, ['a', 'b']);
  assert.equal(load({ UNDERSTUDY_DEMO: 'true' }).demo, 'on');
  assert.equal(load({ UNDERSTUDY_DEMO: '0' }).demo, 'off');
});

test('config: a bad value names the variable, the value and what is expected', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: 'abc' }, /^PORT must be a port number from 0 to 65535, got "abc"$/],
    [{ PORT: '70000' }, /^PORT must be a port number .*"70000"$/],
    [{ PORT: '80.5' }, /^PORT must be .*"80\.5"$/],
    [
      { UNDERSTUDY_BODY_LIMIT_BYTES: '4MB' },
      /^UNDERSTUDY_BODY_LIMIT_BYTES must be a number of bytes .*"4MB"$/,
    ],
    [{ UNDERSTUDY_SHUTDOWN_GRACE_MS: '20s' }, /^UNDERSTUDY_SHUTDOWN_GRACE_MS must be .*milliseconds.*"20s"$/],
    [{ UNDERSTUDY_DEMO: 'maybe' }, /^UNDERSTUDY_DEMO must be auto, on or off, got "maybe"$/],
    [{ UNDERSTUDY_ALLOW_SIGNUP: 'sure' }, /^UNDERSTUDY_ALLOW_SIGNUP must be true or false, got "sure"$/],
    [{ LOG_LEVEL: 'verbose' }, /^LOG_LEVEL must be one of .*info.*debug.*"verbose"$/],
    [
      { UNDERSTUDY_PUBLIC_URL: 'chat.example.com' },
      /^UNDERSTUDY_PUBLIC_URL must be an http:\/\/ or https:\/\/ URL/,
    ],
    [{ OPENAI_BASE_URL: 'api.openai.com/v1' }, /^OPENAI_BASE_URL must be an http:\/\/ or https:\/\/ URL/],
    [{ DATABASE_POOL_MAX: '0' }, /^DATABASE_POOL_MAX must be a whole number from 1/],
    [{ UNDERSTUDY_HEARTBEAT_MS: '1s' }, /^UNDERSTUDY_HEARTBEAT_MS must be /],
    [{ UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '-1' }, /^UNDERSTUDY_DEMO_CHUNK_DELAY_MS must be /],
    [{ UNDERSTUDY_TRUST_PROXY: 'nginx.internal' }, /^UNDERSTUDY_TRUST_PROXY must be .*"nginx\.internal"/],
  ];
  for (const [env, want] of cases) assert.match(refusal(env), want);
});

test('config: every bad value at once, and never a URL credential', () => {
  const msg = refusal({
    PORT: 'abc',
    UNDERSTUDY_DEMO: 'maybe',
    DATABASE_URL: 'mysql://app:hunter2@db/understudy',
    REDIS_URL: 'http://:hunter2@redis:6379',
  });
  assert.match(msg, /PORT must be/);
  assert.match(msg, /UNDERSTUDY_DEMO must be/);
  assert.match(msg, /DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL .*got a mysql: URL/);
  assert.match(msg, /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
  assert.doesNotMatch(msg, /hunter2/);
  assert.equal(msg.split('\n').length, 1, 'one line');
});

test('config: UNDERSTUDY_SHUTDOWN_DELAY_MS, the minimum drain, and its default per storage', () => {
  // One instance on SQLite has no other to take its traffic: waiting would only lengthen a restart.
  assert.equal(load({}).shutdownDelayMs, 0);
  // PostgreSQL is how several instances run behind a load balancer: give it time to see the 503.
  assert.equal(load({ DATABASE_URL: 'postgres://db/understudy' }).shutdownDelayMs, 5000);
  assert.equal(load({ UNDERSTUDY_SHUTDOWN_DELAY_MS: '1500' }).shutdownDelayMs, 1500);
  assert.equal(
    load({ DATABASE_URL: 'postgres://db/understudy', UNDERSTUDY_SHUTDOWN_DELAY_MS: '0' }).shutdownDelayMs,
    0,
  );
  assert.equal(load({ UNDERSTUDY_SHUTDOWN_DELAY_MS: '' }).shutdownDelayMs, 0, 'empty is the default');
  assert.match(
    refusal({ UNDERSTUDY_SHUTDOWN_DELAY_MS: '5s' }),
    /^UNDERSTUDY_SHUTDOWN_DELAY_MS must be a whole number of milliseconds \(0 or more, no unit\), got "5s"$/,
  );
});
