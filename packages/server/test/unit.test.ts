/** Unit tests of the pure parts: SSRF classification, secret box, passwords, settings rules, bootstrap parsing. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ModelConfig } from '@understudy/engine';
import { checkSettings, fallbackChoices } from '../src/admin/index.js';
import { readBootstrapFile } from '../src/bootstrap/index.js';
import {
  checkProviderUrl,
  classifyAddress,
  createSecretBox,
  hashPassword,
  loadSecretKey,
  tokenHash,
  verifyPassword,
} from '../src/security/index.js';
import { safeUrl } from '../src/server.js';
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

test('settings rules (SPEC §2.2)', () => {
  const m = (id: string, enabled = true): ModelConfig => ({
    id,
    providerId: 'p',
    upstreamModel: id,
    label: id.toUpperCase(),
    tier: 1,
    capabilities: [],
    tags: [],
    enabled,
  });
  const models = [m('a'), m('b'), m('c', false)];
  const auto = { mode: 'automatic' } as const;
  const spec = (id: string) => ({ mode: 'specific' as const, modelId: id });
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
});

test('token digests stay SHA-256 hex, so keys and sessions stored before still match', () => {
  // FIPS 180-2's test vector for "abc".
  assert.equal(tokenHash('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  // Non-ASCII is hashed as UTF-8, as createHash().update(string) did.
  assert.equal(tokenHash('é'), createHash('sha256').update('é', 'utf8').digest('hex'));
});
