/**
 * The Audit log page: a provider key rotation says the key was replaced (never "No change", never
 * key material); a role change names the member; an accepted invitation reads as who joined, as
 * what; older entries than the first page's 100 come with "Show older entries"; and the open page
 * catches up on a change made elsewhere (keeping the older pages and the scroll). The wording is
 * checked directly, the page in Chromium against the real server (skipped when Chromium is absent).
 * `AUDIT_SCREENSHOTS=<dir>` also writes a screenshot there.
 */
// test-runner: browser (one browser suite at a time: two Chromiums on 2 cores can take past the 10 s wait for a first page load)
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { AUDIT_ACTIONS } from '@understudy/server';
import { AUDIT_ACTION_LABELS, auditActionLabel } from '../src/settings/auditActions.js';
import { auditChange, auditTarget } from '../src/settings/auditChanges.js';
import {
  api,
  chromiumSkip,
  openPage,
  PASSWORD,
  setUpOwnerInBrowser,
  startHarness,
  type Harness,
  type WatchedPage,
} from './harness.js';

const SHOTS = process.env.AUDIT_SCREENSHOTS;

test('auditChange: a key rotation and an accepted invitation read as sentences', () => {
  const key = (had: boolean, has: boolean) =>
    auditChange({ hasKey: had }, { hasKey: has }, 'provider.rotate_key');
  assert.deepEqual(key(true, true), { side: 'summary', lines: [{ note: 'API key replaced' }] });
  assert.deepEqual(key(false, true).lines, [{ note: 'API key set' }]);
  assert.deepEqual(key(true, false).lines, [{ note: 'API key removed' }]);
  assert.deepEqual(key(false, false), { side: 'both', lines: [] });
  assert.deepEqual(
    auditChange(null, { email: 'pat@example.com', name: 'Pat', role: 'admin' }, 'invitation.accept'),
    {
      side: 'summary',
      lines: [
        { note: 'Joined as admin' },
        { key: 'email', new: 'pat@example.com' },
        { key: 'name', new: 'Pat' },
      ],
    },
  );
  // Other actions, and an entry of an unexpected shape, keep the generic lines.
  assert.deepEqual(auditChange({ hasKey: true }, { hasKey: true }, 'model.update').lines, []);
  assert.deepEqual(auditChange(null, 'x', 'invitation.accept'), { side: 'new', lines: [{ new: 'x' }] });
  assert.deepEqual(auditChange(null, 'x', 'constructor'), { side: 'new', lines: [{ new: 'x' }] });
});

test('auditActionLabel: every action the server records has its own words; an unknown one shows its code', () => {
  const sorted = (xs: readonly string[]) => [...xs].sort();
  assert.deepEqual(
    sorted(Object.keys(AUDIT_ACTION_LABELS)),
    sorted(AUDIT_ACTIONS),
    'the same actions as the server',
  );
  const labels = Object.values(AUDIT_ACTION_LABELS);
  assert.equal(new Set(labels).size, labels.length, 'no two actions read alike');
  for (const label of labels) assert.match(label, /^[A-Z][A-Za-z ]+[a-z]$/, `${label}: words, not a code`);
  assert.equal(auditActionLabel('member.role'), 'Role changed');
  assert.equal(auditActionLabel('future.action'), 'future.action');
  assert.equal(auditActionLabel('constructor'), 'constructor', 'not a property of every object');
});

test('auditTarget: the label, with the id as its tooltip; an organization-level row never its bare id', () => {
  const row = (targetType: string, targetId: string | null, targetLabel: string | null) => ({
    targetType,
    targetId,
    targetLabel,
  });
  assert.deepEqual(auditTarget(row('settings', 'org1', 'Acme')), { text: 'Acme', title: 'org1' });
  assert.deepEqual(auditTarget(row('organization', 'org1', null)), {
    text: 'this organization',
    title: 'org1',
  });
  assert.deepEqual(auditTarget(row('settings', 'org1', null)).text, 'this organization');
  assert.deepEqual(auditTarget(row('provider', 'acme-ai', null)), { text: 'acme-ai' });
  assert.deepEqual(auditTarget(row('models', null, null)), { text: null });
});

describe('Audit log in Chromium', { skip: chromiumSkip(), timeout: 120_000 }, () => {
  let h: Harness;
  let owner: WatchedPage;

  before(async () => {
    h = await startHarness();
    owner = await openPage(h);
    await setUpOwnerInBrowser(h, owner.page);
  });
  after(async () => {
    await h?.close();
  });

  const shot = async (name: string) => {
    if (!SHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    await owner.page.screenshot({ path: join(SHOTS, name) });
  };
  /** The "Old → new" cell of the newest row whose "What" has this text. */
  const changeOf = (what: string) =>
    owner.page.getByRole('row').filter({ hasText: what }).first().locator('td').nth(3);

  it('a key rotation, a role change and an accepted invitation read plainly', async () => {
    const req = owner.context.request;
    const key = 'sk-live-ROTATED-0123456789wxyz';
    const created = await api(req, 'POST', '/api/admin/providers', {
      id: 'acme-ai',
      type: 'openai-compatible',
      label: 'Acme AI',
      baseUrl: 'https://93.184.215.14/v1',
      apiKey: 'sk-live-FIRST-0123456789abcd',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal((await api(req, 'PUT', '/api/admin/providers/acme-ai/key', { apiKey: key })).status, 200);

    const inv = await api(req, 'POST', '/api/admin/invitations', {
      email: 'pat@example.com',
      role: 'member',
    });
    assert.equal(inv.status, 201, JSON.stringify(inv.body));
    // Accepted from elsewhere: a request without the Owner's session.
    const accepted = await fetch(`${h.url}/api/invitations/accept`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: inv.body.token, name: 'Pat Doe', password: PASSWORD }),
    });
    assert.equal(accepted.status, 201, await accepted.text());
    const members = (await api(req, 'GET', '/api/admin/members')).body.members as {
      id: string;
      email: string;
    }[];
    const pat = members.find((m) => m.email === 'pat@example.com')!;
    assert.equal((await api(req, 'PATCH', `/api/admin/members/${pat.id}`, { role: 'admin' })).status, 200);

    const { page } = owner;
    await page.goto('/settings/audit');
    const rotation = changeOf('Provider API key changed');
    await rotation.waitFor();
    assert.equal(await rotation.innerText(), 'API key replaced');
    assert.doesNotMatch(await page.locator('main').innerText(), /ROTATED|FIRST|wxyz|abcd/);

    const role = page.getByRole('row').filter({ hasText: 'Role changed' }).first();
    assert.match(await role.locator('td').nth(2).innerText(), /^Role changed\nPat Doe \(pat@example\.com\)$/);
    assert.equal(
      await role.locator('td').nth(2).getByTitle('member.role').innerText(),
      'Role changed',
      'the code in a tooltip',
    );
    assert.equal(await role.locator('td').nth(3).innerText(), 'role: member → admin');

    const accept = page.getByRole('row').filter({ hasText: 'Invitation accepted' }).first();
    assert.equal(await accept.locator('td').nth(1).innerText(), 'pat@example.com');
    assert.match(await accept.locator('td').nth(2).innerText(), /Pat Doe \(pat@example\.com\)/);
    assert.deepEqual((await accept.locator('td').nth(3).innerText()).split('\n'), [
      'Joined as member',
      'email: pat@example.com',
      'name: Pat Doe',
    ]);
    await shot('audit-rows.png');

    // The setup page's organization: named, not by its id; its simulator setup is Understudy's.
    const cells = async (action: string) => {
      const r = page.getByRole('row').filter({ hasText: action }).last();
      return [await r.locator('td').nth(1).innerText(), await r.locator('td').nth(2).innerText()];
    };
    const simulator = 'Understudy (built-in simulator setup)';
    assert.deepEqual(await cells('Organization created'), ['system', 'Organization created\nAcme']);
    assert.deepEqual(await cells('Setup applied'), [simulator, 'Setup applied\nAcme']);
    assert.deepEqual(await cells('Fallback settings changed'), [
      simulator,
      'Fallback settings changed\nAcme',
    ]);
    const orgRow = page.getByRole('row').filter({ hasText: 'Organization created' });
    await orgRow.scrollIntoViewIfNeeded();
    await shot('audit-organization-rows.png');
    assert.deepEqual(owner.errors, [], 'console errors');
  });

  it('older entries than the first 100 come with "Show older entries"', async () => {
    const req = owner.context.request;
    const mate = await api(req, 'POST', '/api/mates', { name: 'Rename 0' });
    assert.equal(mate.status, 201, JSON.stringify(mate.body));
    for (let i = 1; i <= 110; i++) {
      const r = await api(req, 'PATCH', `/api/mates/${String(mate.body.id)}`, { name: `Rename ${i}` });
      assert.equal(r.status, 200);
    }
    const total = async () => {
      let n = 0;
      let cursor = '';
      for (;;) {
        const r = await api(req, 'GET', `/api/admin/audit?limit=500${cursor && `&before=${cursor}`}`);
        n += (r.body.entries as unknown[]).length;
        if (!r.body.next) return n;
        cursor = String(r.body.next);
      }
    };
    const all = await total();
    assert.ok(all > 100 && all < 200, `${all} entries: two pages`);

    const { page } = owner;
    await page.goto('/settings/audit');
    const rows = page.locator('.audit-table tbody tr');
    await rows.nth(99).waitFor();
    assert.equal(await rows.count(), 100, 'the newest 100 first');
    // The oldest entry, the organization's creation, is on the older page.
    assert.equal(await page.getByRole('row').filter({ hasText: 'Organization created' }).count(), 0);
    const more = page.getByRole('button', { name: 'Show older entries' });
    await more.scrollIntoViewIfNeeded();
    await shot('audit-more.png');
    await more.click();
    await page.getByRole('row').filter({ hasText: 'Organization created' }).waitFor();
    assert.equal(await rows.count(), all, 'the older page is appended, nothing twice');
    assert.equal(await more.count(), 0, 'no more pages: the button goes');
    const end = page.getByText('No older entries');
    assert.equal(
      await end.and(page.locator(':focus')).count(),
      1,
      'the focus moves to the line in its place',
    );
    // Newest first throughout: the renames count down.
    const names = await page.getByRole('row').filter({ hasText: 'Mate changed' }).allInnerTexts();
    const news = names.map((t) => Number(/→ Rename (\d+)/.exec(t)?.[1]));
    assert.deepEqual(
      news,
      [...news].sort((a, b) => b - a),
    );
    assert.equal(news.length, 110);
    await shot('audit-end.png');
    assert.deepEqual(owner.errors, [], 'console errors');
  });

  it('catches up while open: a change made elsewhere shows, the older pages and the scroll stay', async () => {
    const { page } = owner;
    const req = owner.context.request;
    await page.goto('/settings/audit');
    const rows = page.locator('.audit-table tbody tr');
    await rows.nth(99).waitFor();
    /** A change from another tab, then this tab's return (the shared catch-up runs at each). */
    const elsewhere = async (name: string) => {
      assert.equal((await api(req, 'POST', '/api/mates', { name })).status, 201);
      await page.evaluate('window.dispatchEvent(new Event("focus"))');
      await page.getByRole('row').filter({ hasText: name }).waitFor({ timeout: 5000 });
      // The tab counts two returns within half a second as one.
      await page.waitForTimeout(600);
    };

    // At the top, the new entry is the first row.
    await elsewhere('Caught-up Mate 1');
    assert.match(await rows.first().innerText(), /Mate created[\s\S]*Caught-up Mate 1/);

    await page.getByRole('button', { name: 'Show older entries' }).click();
    await page.getByRole('row').filter({ hasText: 'Organization created' }).waitFor();
    const all = await rows.count();
    // As a browser without scroll anchoring (Safari) would: the page itself keeps the row in place.
    await page.addStyleTag({ content: '* { overflow-anchor: none !important; }' });
    const reading = rows.nth(60);
    await reading.scrollIntoViewIfNeeded();
    assert.ok(Number(await page.evaluate('window.scrollY')) > 0, 'scrolled down, reading row 61');
    const before = { id: await reading.getAttribute('data-id'), top: (await reading.boundingBox())!.y };
    const reads: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/admin/audit')) reads.push(new URL(r.url()).search);
    });

    await elsewhere('Caught-up Mate 2');
    assert.equal(await rows.count(), all + 1, 'the older pages stay; the new entry once');
    assert.deepEqual(reads, [''], 'one read: the first page');
    const still = page.locator(`.audit-table tr[data-id="${before.id}"]`);
    const top = (await still.boundingBox())!.y;
    assert.ok(Math.abs(top - before.top) < 2, `the row read stays in place (${before.top} → ${top})`);
    assert.equal(await page.getByText('No older entries').count(), 1);
    await shot('audit-caught-up.png');
    await page.evaluate('window.scrollTo(0, 0)');
    await shot('audit-caught-up-top.png');
    assert.deepEqual(owner.errors, [], 'console errors');
  });
});
