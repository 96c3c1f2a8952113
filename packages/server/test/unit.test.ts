/** Unit tests of the pure parts: SSRF classification, secret box, passwords, settings rules, bootstrap parsing. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { lookup as dnsLookup, LookupAddress } from 'node:dns';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ModelConfig } from '@understudy/engine';
import { createProviderAgent } from '@understudy/providers';
import { request } from 'undici';
import { checkSettings, fallbackChoices, settingsRefusal } from '../src/admin/index.js';
import type { SettingsState } from '../src/admin/settings-rules.js';
import { readBootstrapFile } from '../src/bootstrap/index.js';
import {
  checkProviderUrl,
  classifyAddress,
  createSecretBox,
  guardedLookup,
  hashPassword,
  loadSecretKey,
  tokenHash,
  verifyPassword,
} from '../src/security/index.js';
import { jsonTextNestsDeeperThan, nestsDeeperThan } from '../src/http/json-depth.js';
import { safeUrl } from '../src/logging.js';
import { tempDir } from './helpers.js';

test('SSRF: metadata and link-local always refused, private only when allowed', async () => {
  for (const ip of [
    '169.254.169.254',
    '169.254.1.1',
    '0.0.0.0',
    'fe80::1',
    '::ffff:169.254.169.254',
    '100.100.100.200',
    'fd00:ec2::254',
    '224.0.0.1',
  ]) {
    assert.equal(classifyAddress(ip), 'blocked', ip);
  }
  for (const ip of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '::1', 'fd12::1', '100.64.0.1'])
    assert.equal(classifyAddress(ip), 'private', ip);
  for (const ip of ['8.8.8.8', '2606:4700::1111', '172.32.0.1'])
    assert.equal(classifyAddress(ip), 'public', ip);
  assert.equal((await checkProviderUrl('http://127.0.0.1:11434/v1', { allowPrivate: true })).ok, true);
  assert.equal((await checkProviderUrl('http://127.0.0.1:11434/v1', { allowPrivate: false })).ok, false);
  assert.equal((await checkProviderUrl('http://169.254.169.254/', { allowPrivate: true })).ok, false);
  assert.equal((await checkProviderUrl('http://localhost:1/', { allowPrivate: false })).ok, false);
  assert.equal((await checkProviderUrl('gopher://example.com/', { allowPrivate: true })).ok, false);
  assert.equal((await checkProviderUrl('https://no-such-host.invalid/', { allowPrivate: false })).ok, false);
  assert.equal(
    (await checkProviderUrl('https://no-such-host.invalid/', { allowPrivate: false, allowUnresolved: true }))
      .ok,
    true,
  );
});

test('SSRF: a provider connection refuses a name that now resolves to a metadata address (DNS rebinding)', async () => {
  const server = createServer((_req, res) => res.end('reached'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  // The name passed the save-time check; what it resolves to at connect time is the test's to say.
  // 0.0.0.0 is forbidden like the metadata address, and were the guard broken the connection would
  // reach this loopback server (Linux treats it as the local host) instead of leaving the machine.
  let answer = '0.0.0.0';
  const resolver = ((_host: string, _opts: object, cb: (e: Error | null, a: LookupAddress[]) => void) =>
    cb(null, [{ address: answer, family: 4 }])) as unknown as typeof dnsLookup;
  // A provider allowed private addresses (the simulator's rule): only metadata and link-local are refused.
  const agent = createProviderAgent({ lookup: guardedLookup({ allowPrivate: true, resolve: resolver }) });
  try {
    const refused = await request(`http://rebind.test:${port}/`, { dispatcher: agent }).catch(
      (e: unknown) => e,
    );
    assert.ok(refused instanceof Error, 'the request must fail');
    assert.match(
      String((refused as Error & { cause?: unknown }).cause ?? refused),
      /resolves to 0\.0\.0\.0, a forbidden address/,
    );
    answer = '127.0.0.1';
    const ok = await request(`http://rebind.test:${port}/`, { dispatcher: agent });
    assert.equal(await ok.body.text(), 'reached');
  } finally {
    await agent.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
  // Both callback shapes of dns.lookup: one address, or all of them.
  const lookup = guardedLookup({ allowPrivate: true, resolve: resolver });
  const one = await new Promise<string>((res, rej) =>
    lookup('x', {}, (e, a) => (e ? rej(e) : res(String(a)))),
  );
  assert.equal(one, '127.0.0.1');
  answer = 'fe80::1';
  const err = await new Promise<unknown>((res) => lookup('x', { all: true }, (e) => res(e)));
  assert.ok(err instanceof Error);
});

test('SSRF: IPv6 spellings of IPv4 addresses are classified by the IPv4 address they reach', async () => {
  // The URL parser rewrites [::ffff:127.0.0.1] to [::ffff:7f00:1]: the hex spelling must not pass as public.
  for (const ip of [
    '::ffff:a9fe:a9fe', // mapped 169.254.169.254, hex
    '0:0:0:0:0:ffff:169.254.169.254',
    '::ffff:0:a9fe:a9fe', // SIIT
    '::a9fe:a9fe', // IPv4-compatible
    '64:ff9b::a9fe:a9fe', // NAT64
    '64:ff9b::169.254.169.254',
    '2002:a9fe:a9fe::1', // 6to4
    '::ffff:0.0.0.0',
    'fec0::1', // site-local
    '2001:0:4136:e378:8000:63bf:3fff:fdd2', // Teredo
    'fe80::1%eth0', // with a zone
    'not-an-address',
  ]) {
    assert.equal(classifyAddress(ip), 'blocked', ip);
  }
  for (const ip of ['::ffff:7f00:1', '::7f00:1', '64:ff9b::a00:1', '2002:c0a8:101::', '64:ff9b:1::1'])
    assert.equal(classifyAddress(ip), 'private', ip);
  for (const ip of ['::ffff:808:808', '64:ff9b::808:808', '2002:808:808::1'])
    assert.equal(classifyAddress(ip), 'public', ip);
  for (const url of [
    'http://[::ffff:127.0.0.1]:8299/v1',
    'http://[::ffff:7f00:1]/v1',
    'http://[::127.0.0.1]/v1',
    'http://[64:ff9b::127.0.0.1]/v1',
  ]) {
    const v = await checkProviderUrl(url, { allowPrivate: false });
    assert.equal(v.ok, false, url);
    assert.match(v.ok ? '' : v.message, /private address/, url);
  }
  for (const url of ['http://[::ffff:169.254.169.254]/v1', 'http://[2002:a9fe:a9fe::]/']) {
    const v = await checkProviderUrl(url, { allowPrivate: true });
    assert.equal(v.ok, false, url);
    assert.match(v.ok ? '' : v.message, /a forbidden address \(link-local, metadata/, url);
  }
  assert.equal(
    (await checkProviderUrl('http://[::ffff:127.0.0.1]:8299/v1', { allowPrivate: true })).ok,
    true,
  );
});

test('secret box: AES-256-GCM round trip, tamper detection, key file reused', () => {
  const tmp = tempDir();
  try {
    const key = loadSecretKey(undefined, tmp.dir);
    assert.deepEqual(loadSecretKey(undefined, tmp.dir), key);
    const box = createSecretBox(key);
    const sealed = box.seal('sk-secret');
    assert.ok(!sealed.includes('sk-secret'));
    assert.notEqual(box.seal('sk-secret'), sealed, 'random IV');
    assert.equal(box.open(sealed), 'sk-secret');
    const parts = sealed.split('.');
    parts[3] = Buffer.from('sk-secreT').toString('base64url');
    assert.throws(() => box.open(parts.join('.')));
    assert.throws(() => createSecretBox(loadSecretKey('another secret', tmp.dir)).open(sealed));
  } finally {
    tmp.remove();
  }
});

test('passwords: scrypt hashes verify and are salted', async () => {
  const h = await hashPassword('correct horse battery');
  assert.match(h, /^scrypt\$32768\$8\$1\$/);
  assert.equal(await verifyPassword('correct horse battery', h), true);
  assert.equal(await verifyPassword('correct horse batterY', h), false);
  assert.notEqual(await hashPassword('correct horse battery'), h);
  assert.equal(await verifyPassword('x', 'garbage'), false);
});

/** The settings tests' available list: a and b enabled, c disabled; and the two fallback forms. */
const settingsModel = (id: string, enabled = true): ModelConfig => ({
  id,
  providerId: 'p',
  upstreamModel: id,
  label: id.toUpperCase(),
  tier: 1,
  capabilities: [],
  tags: [],
  enabled,
});
const models = [settingsModel('a'), settingsModel('b'), settingsModel('c', false)];
const auto = { mode: 'automatic' } as const;
const spec = (id: string) => ({ mode: 'specific' as const, modelId: id });

test('settings rules (SPEC §2.2)', () => {
  assert.equal(
    checkSettings({ defaultModelId: 'a', fallback: auto }, { defaultModelId: 'b', fallback: auto }, models),
    undefined,
  );
  assert.match(
    checkSettings(
      { defaultModelId: 'a', fallback: auto },
      { defaultModelId: 'a', fallback: spec('a') },
      models,
    ) ?? '',
    /cannot be the Default Model/,
  );
  assert.match(
    checkSettings(
      { defaultModelId: 'a', fallback: spec('b') },
      { defaultModelId: 'b', fallback: spec('b') },
      models,
    ) ?? '',
    /is the Specific Fallback Model/,
  );
  assert.match(
    checkSettings(
      { defaultModelId: 'a', fallback: auto },
      { defaultModelId: 'a', fallback: spec('c') },
      models,
    ) ?? '',
    /disabled/,
  );
  assert.match(
    checkSettings({ defaultModelId: 'a', fallback: auto }, { defaultModelId: 'z', fallback: auto }, models) ??
      '',
    /not in the available list/,
  );
  assert.deepEqual(
    fallbackChoices(models, 'a').map((c) => c.value),
    ['automatic', 'none', 'b'],
  );
});

test('settings refusals as data: a stable reason and the fields involved, the message kept (SPEC §2.2)', () => {
  const from = { defaultModelId: 'a', fallback: auto };
  const cases: [SettingsState, SettingsState, string, string[]][] = [
    [from, { defaultModelId: null, fallback: auto }, 'default_model_required', ['defaultModel']],
    [from, { defaultModelId: 'z', fallback: auto }, 'default_model_unknown', ['defaultModel']],
    [from, { defaultModelId: 'c', fallback: auto }, 'default_model_disabled', ['defaultModel']],
    [from, { defaultModelId: 'a', fallback: spec('z') }, 'fallback_model_unknown', ['fallback.model']],
    [from, { defaultModelId: 'a', fallback: spec('c') }, 'fallback_model_disabled', ['fallback.model']],
    [
      from,
      { defaultModelId: 'a', fallback: spec('a') },
      'fallback_model_is_default_model',
      ['fallback.model', 'defaultModel'],
    ],
    [
      { defaultModelId: 'a', fallback: spec('b') },
      { defaultModelId: 'b', fallback: spec('b') },
      'default_model_is_fallback_model',
      ['defaultModel', 'fallback.model'],
    ],
  ];
  for (const [before, after, reason, fields] of cases) {
    const r = settingsRefusal(before, after, models);
    assert.ok(r, reason);
    assert.equal(r.reason, reason);
    assert.deepEqual(r.fields, fields, reason);
    // The text for API users still starts with the field it is about, and is what checkSettings says.
    assert.ok(r.message.startsWith(`${fields[0]}: `), r.message);
    assert.equal(checkSettings(before, after, models), r.message);
  }
  assert.equal(settingsRefusal(from, { defaultModelId: 'b', fallback: spec('a') }, models), undefined);
});

test('bootstrap file: env interpolation, unknown fields, JSON too', () => {
  const tmp = tempDir();
  try {
    const y = join(tmp.dir, 'c.yaml');
    writeFileSync(
      y,
      'providers:\n  - id: o\n    type: openai\n    apiKey: ${KEY}\n  - id: p\n    type: anthropic\n    apiKey: ${MISSING:-fallback}\n',
    );
    const f = readBootstrapFile(y, { KEY: 'sk-1' });
    assert.deepEqual(
      f.providers.map((p) => p.apiKey),
      ['sk-1', 'fallback'],
    );
    assert.throws(() => readBootstrapFile(y, {}), /KEY is not set/);
    writeFileSync(y, 'organization:\n  name: A\n  fallback: sometimes\n');
    assert.throws(() => readBootstrapFile(y, {}), /fallback/);
    const j = join(tmp.dir, 'c.json');
    writeFileSync(j, JSON.stringify({ organization: { name: 'A', fallback: 'none' }, models: [] }));
    assert.deepEqual(readBootstrapFile(j, {}).organization?.fallback, 'none');
  } finally {
    tmp.remove();
  }
});

test('request URLs are logged without tokens', () => {
  assert.equal(safeUrl('/api/invitations/inv_abc'), '/api/invitations/[redacted]');
  assert.equal(safeUrl('/api/invitations/accept'), '/api/invitations/accept');
  assert.equal(safeUrl('/x?token=abc&y=1'), '/x?token=[redacted]&y=1');
  assert.equal(safeUrl('/api/invitations/acceptabc'), '/api/invitations/[redacted]');
  // The product's invitation link (acceptUrl), as the invitee's browser opens it.
  assert.equal(safeUrl('/invite/inv_abc'), '/invite/[redacted]');
  assert.equal(safeUrl('/invite/inv_abc/x?y=1'), '/invite/[redacted]?y=1');
  assert.equal(safeUrl('/setup?token=abc'), '/setup?token=[redacted]');
});

test('token digests stay SHA-256 hex, so keys and sessions stored before still match', () => {
  // FIPS 180-2's test vector for "abc".
  assert.equal(tokenHash('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  // Non-ASCII is hashed as UTF-8, as createHash().update(string) did.
  assert.equal(tokenHash('é'), createHash('sha256').update('é', 'utf8').digest('hex'));
});

test('JSON depth: objects and arrays counted without recursion; text that is not JSON is never deep', () => {
  const nest = (n: number) => JSON.parse('['.repeat(n) + ']'.repeat(n)) as unknown;
  assert.equal(nestsDeeperThan({}, 1), false);
  assert.equal(nestsDeeperThan({ a: [1] }, 1), true);
  assert.equal(nestsDeeperThan('x'.repeat(10), 0), false, 'a scalar has no depth');
  assert.equal(nestsDeeperThan(nest(64)), false);
  assert.equal(nestsDeeperThan(nest(65)), true);
  assert.equal(nestsDeeperThan(nest(100_000)), true, 'far past where JSON.stringify overflows');
  assert.equal(jsonTextNestsDeeperThan('[[1]]', 2), false);
  assert.equal(jsonTextNestsDeeperThan('[[[1]]]', 2), true);
  // Brackets in strings, escaped quotes included, are text.
  assert.equal(jsonTextNestsDeeperThan(JSON.stringify({ a: '[[[[\\"[[[[' }), 2), false);
  assert.equal(jsonTextNestsDeeperThan('not JSON [[[[[[', 2), false);
  assert.equal(jsonTextNestsDeeperThan(`{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`), true);
});
