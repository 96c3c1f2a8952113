/**
 * QA fixes of the web app: the fallback tooltip names why health memory skipped the primary and
 * words an answer the backup took over but did not finish truthfully; a failed answer with no
 * tokens shows no "0 tokens"; the audit log shows changes as readable lines that fit a 1280 px
 * window; Provider status does not pair a green "Healthy" with a simulated outage no request has
 * hit yet, nor show it for a provider no request has reached, says when an unavailable provider is
 * tried again, and a passing Test connection clears it; GFM tables render inside a chat answer;
 * and on a phone the Members, API keys, Fallback activity and audit log tables are cards that
 * fit the screen; the amber icon stays beside its token counter on a phone; past 100
 * conversations the list pages, and is one Tab stop with arrow keys inside; a chat page in front reads the server
 * again every 15 s, so a window beside another shows what that one did, on one timer per tab. The pure parts are checked directly, the rest in Chromium against the real server and
 * simulator (skipped when Chromium is absent).
 * `UI_FIXES_SCREENSHOTS=<dir>` also writes screenshots there.
 */
// test-runner: browser (one browser suite at a time: two Chromiums on 2 cores can take past the 10 s wait for a first page load)
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import type { FallbackInfo, MessageStatus } from '../src/api/types.js';
import { fallbackIconName, fallbackSentence } from '../src/chat/fallbackSentence.js';
import { failureText } from '../src/chat/failureText.js';
import { reasonWords } from '../src/chat/reasons.js';
import { auditChange, valueText } from '../src/settings/auditChanges.js';
import {
  addMate,
  api,
  chromiumSkip,
  conversationRead,
  openPage,
  PASSWORD,
  setUpOwnerInBrowser,
  startHarness,
  type Harness,
  type WatchedPage,
} from './harness.js';

const SHOTS = process.env.UI_FIXES_SCREENSHOTS;

const LABELS: Record<string, string> = { 'sim-a-large': 'Sim A Large', 'sim-b-large': 'Sim B Large' };
const label = (id: string) => LABELS[id] ?? id;
const fallback = (over: Partial<FallbackInfo> = {}): FallbackInfo => ({
  originalModel: 'sim-a-large',
  originalProvider: 'sim-a',
  originalProviderLabel: 'Simulator A',
  reason: 'overloaded',
  backupModel: 'sim-b-large',
  backupProvider: 'sim-b',
  mode: 'invisible',
  skippedByHealth: false,
  primaryFailure: 'overloaded',
  ...over,
});

test('fallbackSentence: a complete answer keeps its wording', () => {
  assert.equal(
    fallbackSentence(fallback(), label),
    'Answered by the backup model Sim B Large. The original provider Simulator A was unavailable: Sim A Large was overloaded.',
  );
  assert.equal(fallbackSentence(fallback(), label, 'complete'), fallbackSentence(fallback(), label));
  assert.equal(fallbackIconName('complete'), 'Answered by backup model');
});

test('fallbackSentence: an answer the backup continued names the model that began it', () => {
  for (const mode of ['prefill', 'instruct']) {
    const f = fallback({ reason: 'interrupted', mode });
    assert.equal(
      fallbackSentence(f, label),
      'Sim A Large began this answer; the backup model Sim B Large completed it. The original provider Simulator A was unavailable: Sim A Large stopped in the middle of the answer.',
    );
    assert.match(
      fallbackSentence(f, label, 'in_progress'),
      /^The backup model Sim B Large is completing the answer Sim A Large began\. /,
    );
  }
  // Replaced or never shown: the backup's words alone.
  for (const mode of ['restart', 'invisible'])
    assert.match(fallbackSentence(fallback({ mode }), label), /^Answered by the backup model Sim B Large\. /);
});

test('fallbackSentence: a primary skipped by health memory says why (the failure it remembers)', () => {
  for (const reason of ['overloaded', 'timeout', 'rate_limited', 'unreachable']) {
    const text = fallbackSentence(fallback({ skippedByHealth: true, reason }), label);
    assert.equal(
      text,
      `Answered by the backup model Sim B Large. The original provider Simulator A was unavailable: Sim A Large was skipped because provider Simulator A is known to be unavailable (when last tried, it ${reasonWords(reason)}).`,
    );
  }
  assert.match(
    fallbackSentence(fallback({ skippedByHealth: true, reason: 'some_new_reason' }), label),
    /known to be unavailable \(when last tried, it failed \(some new reason\)\)\.$/,
  );
});

test('fallbackSentence: an answer the backup took over but did not finish is not "answered by" it', () => {
  const endings: [MessageStatus, string][] = [
    ['failed', 'The answer could not be completed.'],
    ['interrupted', 'The answer was interrupted.'],
    ['cancelled', 'The answer was stopped.'],
  ];
  for (const [status, ending] of endings) {
    const text = fallbackSentence(fallback({ reason: 'interrupted' }), label, status);
    assert.equal(
      text,
      `The backup model Sim B Large took over after the original provider Simulator A was unavailable: Sim A Large stopped in the middle of the answer. ${ending}`,
    );
    assert.doesNotMatch(text, /Answered by/);
    assert.equal(fallbackIconName(status), 'Backup model took over');
  }
  const skipped = fallbackSentence(fallback({ skippedByHealth: true }), label, 'failed');
  assert.match(skipped, /^The backup model Sim B Large took over after the original provider Simulator A/);
  assert.match(skipped, /\(when last tried, it was overloaded\)\. The answer could not be completed\.$/);
  // While the backup is still writing, it is answering.
  assert.match(
    fallbackSentence(fallback(), label, 'in_progress'),
    /^The backup model Sim B Large is answering\. /,
  );
  assert.equal(fallbackIconName('in_progress'), 'Answered by backup model');
});

test('failureText: the standard error names providers by their label, as the tooltip does', () => {
  const side = (model: string, provider: string, providerLabel: string | undefined, reason: string) => ({
    model,
    provider,
    ...(providerLabel !== undefined && { providerLabel }),
    reason,
    message: 'HTTP 529',
  });
  const error = {
    reason: 'overloaded',
    message: 'raw',
    primary: side('sim-a-large', 'sim-a', 'Simulator A', 'overloaded'),
    backup: side('sim-b-large', 'sim-b', 'Simulator B', 'rate_limited'),
  };
  assert.equal(
    failureText({ error }, label),
    'Sim A Large on Simulator A was overloaded; the backup Sim B Large on Simulator B was rate-limited.',
  );
  // An answer stored before labels were sent keeps the id.
  const old = { ...error, primary: side('sim-a-large', 'sim-a', undefined, 'overloaded'), backup: null };
  assert.equal(failureText({ error: old }, label), 'Sim A Large on sim-a was overloaded.');
});

test('auditChange: per changed key for two objects; one-sided objects list their keys; plain values as they are', () => {
  assert.deepEqual(
    auditChange(
      { defaultModel: 'sim-a-large', fallback: { mode: 'automatic' } },
      { defaultModel: 'sim-a-large', fallback: { mode: 'specific', model: 'sim-b-medium' } },
    ),
    {
      side: 'both',
      lines: [
        { key: 'fallback.mode', old: 'automatic', new: 'specific' },
        { key: 'fallback.model', old: '—', new: 'sim-b-medium' },
      ],
    },
  );
  assert.deepEqual(auditChange({ outage: 'none' }, { outage: 'overloaded' }).lines, [
    { key: 'outage', old: 'none', new: 'overloaded' },
  ]);
  assert.deepEqual(auditChange(null, { name: 'Ada', tags: ['a', 'b'], tier: 2, on: true }), {
    side: 'new',
    lines: [
      { key: 'name', new: 'Ada' },
      { key: 'tags', new: 'a, b' },
      { key: 'tier', new: '2' },
      { key: 'on', new: 'true' },
    ],
  });
  assert.deepEqual(auditChange({ id: 'x' }, null), { side: 'old', lines: [{ key: 'id', old: 'x' }] });
  assert.deepEqual(auditChange(['a', 'b'], ['b', 'a']).lines, [{ old: 'a, b', new: 'b, a' }]);
  assert.deepEqual(auditChange('old', 'new').lines, [{ old: 'old', new: 'new' }]);
  assert.deepEqual(auditChange({ a: 1 }, { a: 1 }), { side: 'both', lines: [] });
  assert.deepEqual(auditChange(null, undefined), { side: 'none', lines: [] });
  assert.equal(valueText([{ a: 1 }]), '[{"a":1}]');
  assert.equal(valueText(''), '""');
  assert.equal(valueText([]), '(empty list)');
});

/** The assistant messages of the open conversation. */
const answers = (page: Page) => page.locator('li.msg-assistant');

describe('QA fixes in Chromium', { skip: chromiumSkip(), timeout: 180_000 }, () => {
  let h: Harness;
  let owner: WatchedPage;
  let mateId = '';
  /** A conversation with a complete answer (B's). */
  let answered = '';

  const noConsoleErrors = (o: WatchedPage) => assert.deepEqual(o.errors, [], 'console errors');
  /** Starts a conversation with Ada (through the API) and opens it in the owner's page. */
  const openNew = async () => {
    const conv = await api(owner.context.request, 'POST', '/api/conversations', { mateId });
    assert.equal(conv.status, 201, JSON.stringify(conv.body));
    await owner.page.goto(`/c/${String(conv.body.id)}`);
    return { id: String(conv.body.id), title: String(conv.body.title) };
  };
  const shot = async (page: Page, name: string, fullPage = false) => {
    if (!SHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, name), fullPage });
  };
  const setOutage = async (provider: string, fault: string) => {
    const r = await api(owner.context.request, 'PUT', `/api/admin/demo/providers/${provider}/outage`, {
      fault,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  };
  /** Opens a new conversation, sends `text` and waits for its answer to reach `status`. */
  const askInNewChat = async (text: string, status: MessageStatus) => {
    const conv = await api(owner.context.request, 'POST', '/api/conversations', { mateId });
    assert.equal(conv.status, 201, JSON.stringify(conv.body));
    const id = String(conv.body.id);
    const { page } = owner;
    await page.goto(`/c/${id}`);
    await page.getByLabel('Message', { exact: true }).fill(text);
    await page.keyboard.press('Enter');
    const msg = answers(page).first();
    await msg.and(page.locator(`[data-status="${status}"]`)).waitFor({ timeout: 20_000 });
    const stored = await api(owner.context.request, 'GET', `/api/conversations/${id}`);
    const messages = stored.body.messages as {
      status: string;
      fallback: FallbackInfo | null;
      usage: { inputTokens: number; outputTokens: number } | null;
    }[];
    return { id, msg, stored: messages.at(-1) };
  };
  const simA = async () => {
    const r = await api(owner.context.request, 'GET', '/api/admin/provider-status');
    const p = (r.body.providers as { id: string; models: { id: string; available: boolean }[] }[]).find(
      (x) => x.id === 'sim-a',
    );
    return p?.models.find((m) => m.id === 'sim-a-large');
  };

  /**
   * A conversation open in the owner's page and in a second tab: the first tab sends a message and
   * a conversation is started through the API; after `catchUp` the second tab shows the message,
   * the same answer and the new conversation, without console errors.
   */
  const secondTabCatchesUp = async (steps: {
    beforeLoad?: (other: Page) => Promise<void>;
    loaded?: (other: Page) => Promise<void>;
    catchUp: (other: Page, shown: Locator[]) => Promise<unknown>;
  }) => {
    const { page, context } = owner;
    const { id } = await openNew();
    const other = await context.newPage();
    const errors: string[] = [];
    other.on('pageerror', (e) => errors.push(e.message));
    other.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    try {
      await steps.beforeLoad?.(other);
      await other.goto(`/c/${id}`);
      await other.getByText('Say hello to', { exact: false }).waitFor();
      await steps.loaded?.(other);
      const text = `Hello from the first tab (${id})`;
      await page.getByLabel('Message', { exact: true }).fill(text);
      await page.keyboard.press('Enter');
      await answers(page).first().and(page.locator('[data-status="complete"]')).waitFor({ timeout: 20_000 });
      const title = `Started in another tab (${id})`;
      const made = await api(context.request, 'POST', '/api/conversations', { mateId, title });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const message = other.locator('li.msg-user', { hasText: text });
      const started = other.getByRole('link', { name: title });
      await steps.catchUp(other, [message, started]);
      await message.waitFor();
      await answers(other).first().and(other.locator('[data-status="complete"]')).waitFor();
      assert.equal(
        await answers(other).first().locator('.markdown').innerText(),
        await answers(page).first().locator('.markdown').innerText(),
        'the same answer',
      );
      await started.waitFor();
      assert.deepEqual(errors, [], 'console errors');
    } finally {
      await other.close();
    }
    noConsoleErrors(owner);
  };

  before(async () => {
    h = await startHarness();
    owner = await openPage(h);
    await setUpOwnerInBrowser(h, owner.page);
    mateId = await addMate(owner.context.request, 'Ada');
  });
  after(async () => {
    await h?.close();
  });

  it('a skip link is the first Tab stop and moves the focus to the content, past the sidebar', async () => {
    const { page } = owner;
    await page.goto('/');
    await page.getByRole('heading', { name: 'Mates' }).waitFor();
    await page.keyboard.press('Tab');
    const skip = page.getByRole('link', { name: 'Skip to content' });
    const focused = (l: Locator) => l.and(page.locator(':focus')).count();
    assert.equal(await focused(skip), 1, 'first Tab stop');
    const box = await skip.boundingBox();
    assert.ok(box && box.y >= 0, 'shown on screen once focused');
    await shot(page, 'skip-link.png');
    await page.keyboard.press('Enter');
    assert.equal(await focused(page.locator('main#main')), 1, 'the focus is on the content');
    for (const path of ['/settings/audit']) {
      await page.goto(path);
      await page.getByRole('heading', { name: 'Audit log' }).waitFor();
      await page.keyboard.press('Tab');
      await page.keyboard.press('Enter');
      assert.equal(await focused(page.locator('main#main')), 1, path);
    }
    noConsoleErrors(owner);
  });

  it('F: under a simulated outage no request has hit, the provider is not shown as a green "Healthy"', async () => {
    const { page } = owner;
    await setOutage('sim-a', 'overloaded');
    await page.goto('/settings/status');
    const card = page.locator('[data-provider="sim-a"]');
    await card.getByText('Simulated outage: overloaded').waitFor();
    const head = card.locator('.provider-head');
    await head.getByText('No failures seen yet').waitFor();
    assert.equal(await card.locator('.badge.good').count(), 0, 'no green badge on the card under an outage');
    assert.doesNotMatch(await card.innerText(), /Healthy/);
    await card.getByText('Health memory has not seen this outage yet').waitFor();
    // A provider without an outage, once a request has reached it, is plainly healthy.
    const other = page.locator('[data-provider="sim-b"]');
    const tested = await api(owner.context.request, 'POST', '/api/admin/providers/sim-b/test', {});
    assert.equal(tested.body.ok, true, JSON.stringify(tested.body));
    await other
      .locator('.provider-head .badge.good')
      .filter({ hasText: /^Healthy$/ })
      .waitFor();
    assert.equal(await other.getByText('Health memory has not seen').count(), 0);
    await shot(page, 'status-outage.png');
    await setOutage('sim-a', 'none');
    noConsoleErrors(owner);
  });

  it('D: a failed answer without tokens shows no token counter', async () => {
    // Fallback None (so the backup's health is left alone for the next steps), the primary down.
    const none = await api(owner.context.request, 'PUT', '/api/admin/settings', {
      fallback: { mode: 'none' },
    });
    assert.equal(none.status, 200, JSON.stringify(none.body));
    await setOutage('sim-a', 'unavailable');
    const { msg, stored } = await askInNewChat('Is anybody there at all?', 'failed');
    const auto = await api(owner.context.request, 'PUT', '/api/admin/settings', {
      fallback: { mode: 'automatic' },
    });
    assert.equal(auto.status, 200, JSON.stringify(auto.body));
    assert.equal(stored?.status, 'failed');
    assert.equal((stored?.usage?.inputTokens ?? 0) + (stored?.usage?.outputTokens ?? 0), 0, 'no tokens');
    await msg.getByRole('alert').waitFor();
    assert.equal(await msg.locator('.tokens').count(), 0, 'no token counter');
    assert.doesNotMatch(await msg.locator('.msg-header').innerText(), /tokens/);
    noConsoleErrors(owner);
  });

  it('C: an answer the backup took over and then lost is not "answered by the backup"', async () => {
    // The primary is cut mid-answer, the backup takes over and is cut too.
    await setOutage('sim-a', 'cut_after');
    await setOutage('sim-b', 'cut_after');
    const cut = await askInNewChat('Tell me a long story', 'interrupted');
    assert.ok(cut.stored?.fallback, 'the server stores the takeover');
    const { page } = owner;
    // A partial answer with tokens keeps its counter.
    if ((cut.stored?.usage?.inputTokens ?? 0) + (cut.stored?.usage?.outputTokens ?? 0) > 0)
      await cut.msg.locator('.tokens').waitFor();
    const icon = cut.msg.getByRole('button', { name: 'Backup model took over' });
    await icon.hover();
    const tooltip = page.getByRole('tooltip');
    await tooltip.waitFor({ state: 'visible' });
    const tip = await tooltip.innerText();
    assert.doesNotMatch(tip, /Answered by/);
    assert.match(
      tip,
      /^The backup model .+ took over after the original provider Simulator A .+ was unavailable: /,
    );
    assert.match(tip, /The answer was interrupted\.$/);
    await page.mouse.move(0, 0);

    // The primary fails before it writes anything, the backup takes over and is cut: failed.
    await setOutage('sim-a', 'overloaded');
    const failed = await askInNewChat('Tell me another long story', 'failed');
    assert.ok(failed.stored?.fallback, 'the server stores the takeover');
    await failed.msg.getByRole('button', { name: 'Backup model took over' }).hover();
    await tooltip.waitFor({ state: 'visible' });
    const tip2 = await tooltip.innerText();
    assert.doesNotMatch(tip2, /Answered by/);
    assert.match(tip2, /took over after the original provider Simulator A/);
    assert.match(tip2, /The answer could not be completed\.$/);
    await shot(page, 'tooltip-took-over-failed.png');
    await page.mouse.move(0, 0);
    await setOutage('sim-b', 'none');
    noConsoleErrors(owner);
  });

  it('B: a primary skipped by health memory: the tooltip says why', async () => {
    await setOutage('sim-a', 'overloaded');
    // Short API answers through the primary (answered by the backup) until health memory opens its
    // circuit.
    const key = await api(owner.context.request, 'POST', '/api/admin/api-keys', { name: 'Probe' });
    assert.equal(key.status, 201, JSON.stringify(key.body));
    for (let i = 0; i < 6 && (await simA())?.available !== false; i++) {
      const res = await owner.context.request.post('/v1/chat/completions', {
        headers: { authorization: `Bearer ${String(key.body.key)}`, 'content-type': 'application/json' },
        data: JSON.stringify({
          model: 'sim-a-large',
          messages: [{ role: 'user', content: 'Hi' }],
          max_tokens: 5,
        }),
      });
      assert.equal(res.status(), 200, await res.text());
    }
    assert.equal((await simA())?.available, false, 'circuit open');
    const { id, msg, stored } = await askInNewChat('Are you still down?', 'complete');
    answered = id;
    assert.equal(stored?.fallback?.skippedByHealth, true, JSON.stringify(stored?.fallback));
    const { page } = owner;
    await msg.getByRole('button', { name: 'Answered by backup model' }).hover();
    const tooltip = page.getByRole('tooltip');
    await tooltip.waitFor({ state: 'visible' });
    const tip = await tooltip.innerText();
    assert.match(tip, /^Answered by the backup model /);
    const why = `is known to be unavailable (when last tried, it ${reasonWords(stored?.fallback?.reason ?? '')}).`;
    assert.ok(tip.endsWith(why), `${tip} ends with ${why}`);
    assert.match(tip, /\(when last tried, it was overloaded\)/);
    await shot(page, 'tooltip-skipped-by-health.png');
    await page.mouse.move(0, 0);
    await setOutage('sim-a', 'none');
    noConsoleErrors(owner);
  });

  it('A: a GFM table in an answer renders as a table that scrolls inside the message on a phone', async () => {
    const { page } = owner;
    const id = answered;
    assert.ok(id, 'B left a conversation with a complete answer');
    // The simulator writes no tables: a stored answer is shown as a model would have written one.
    const table = [
      'Here is the comparison:',
      '',
      '| Model | Provider | Tier | Notes |',
      '| :--- | :--- | ---: | :--- |',
      '| Sim A Large | Simulator A (OpenAI protocol) | 3 | ~~slow~~ fast, see https://example.com/sim-a |',
      '| Sim B Large | Simulator B (Anthropic protocol) | 3 | the automatic backup of Sim A Large |',
    ].join('\n');
    await page.route(conversationRead(id), async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { messages: { role: string; content: string }[] };
      for (const m of body.messages) if (m.role === 'assistant') m.content = table;
      await route.fulfill({ response: res, json: body });
    });
    await page.goto(`/c/${id}`);
    const msg = answers(page).first();
    const t = msg.locator('.md-table-scroll > table');
    await t.waitFor();
    assert.equal(await t.locator('thead th').count(), 4);
    assert.equal(await t.locator('tbody tr').count(), 2);
    assert.equal(await t.locator('tbody td').first().innerText(), 'Sim A Large');
    assert.doesNotMatch(await msg.locator('.markdown').innerText(), /\| :?---/);
    assert.equal(await msg.locator('del').innerText(), 'slow');
    assert.equal(
      await msg.getByRole('link', { name: 'https://example.com/sim-a' }).getAttribute('target'),
      '_blank',
    );
    // Borders and padding on the cells.
    const cell = String(
      await page.evaluate(
        '(() => { const s = getComputedStyle(document.querySelector(".md-table-scroll td")); return s.borderTopStyle + " " + s.paddingLeft; })()',
      ),
    );
    assert.match(cell, /^solid [1-9]/);
    await shot(page, 'chat-table.png');
    // Phone width: the table scrolls inside its box, the page does not.
    await page.setViewportSize({ width: 390, height: 844 });
    await t.waitFor();
    const overflow = Number(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'));
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone`);
    const [sw, cw] = [
      Number(await page.evaluate('document.querySelector(".md-table-scroll").scrollWidth')),
      Number(await page.evaluate('document.querySelector(".md-table-scroll").clientWidth')),
    ];
    assert.ok(sw > cw, `the table scrolls inside the message (${sw} > ${cw})`);
    await shot(page, 'chat-table-phone.png');
    await page.setViewportSize({ width: 1280, height: 820 });
    await page.unroute(`**/api/conversations/${id}`);
    noConsoleErrors(owner);
  });

  it('E: the audit log shows readable changes that fit a 1280 px window', async () => {
    const req = owner.context.request;
    const long = `sim-${'x'.repeat(190)}`;
    const tags = Array.from({ length: 8 }, (_, i) => `a-rather-long-tag-number-${i}`);
    const created = await api(req, 'POST', '/api/admin/models', {
      id: 'audit-probe',
      provider: 'sim-b',
      upstreamModel: long,
      label: 'Audit probe',
      tier: 1,
      contextWindow: 8000,
      maxOutputTokens: 1000,
      tags,
      enabled: false,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const patched = await api(req, 'PATCH', '/api/admin/models/audit-probe', {
      label: 'Audit probe, renamed',
      tags: [...tags, 'one-more'],
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const settings = await api(req, 'PUT', '/api/admin/settings', {
      fallback: { mode: 'specific', model: 'sim-b-medium' },
    });
    assert.equal(settings.status, 200, JSON.stringify(settings.body));
    const { page } = owner;
    await page.setViewportSize({ width: 1280, height: 820 });
    await page.goto('/settings/audit');
    const rows = page.getByRole('row');
    /** The "Old → new" cell of the newest row whose action reads `action`. */
    const changeOf = (action: string) =>
      rows.filter({ hasText: action }).first().locator('td').nth(3).innerText();
    await rows.filter({ hasText: 'Model changed' }).first().waitFor();
    // Only the changed keys, in words; no JSON.
    const change = await changeOf('Model changed');
    assert.match(change, /label: Audit probe → Audit probe, renamed/);
    assert.match(change, /tags: a-rather-long-tag-number-0, .* → a-rather-long-tag-number-0, .*one-more/);
    assert.doesNotMatch(change, /tier|upstreamModel|[{}"]/);
    const settingsRow = await changeOf('Fallback settings changed');
    assert.match(settingsRow, /fallback\.mode: automatic → specific/);
    assert.match(settingsRow, /fallback\.model: — → sim-b-medium/);
    const outageRow = await changeOf('Simulated outage switched');
    assert.match(outageRow, /^outage: \w+ → none$/);
    const createRow = await changeOf('Model added');
    assert.match(createRow, /^New:\s/);
    assert.ok(createRow.includes(`upstreamModel: ${long}`), createRow);
    // Nothing is clipped or scrolls sideways: the table fits its box and the page fits the window.
    const [sw, cw] = [
      Number(await page.evaluate('document.querySelector(".table-wrap").scrollWidth')),
      Number(await page.evaluate('document.querySelector(".table-wrap").clientWidth')),
    ];
    assert.ok(sw <= cw, `the audit table scrolls sideways at 1280 px (${sw} > ${cw})`);
    const overflow = Number(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'));
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the window`);
    await shot(page, 'audit-1280.png');
    noConsoleErrors(owner);
  });

  it('G: Provider status: untried is not "Healthy"; Unavailable says when it is tried again; a passing test clears it', async () => {
    const { page } = owner;
    // A provider of its own, that no request has reached yet.
    const added = await api(owner.context.request, 'POST', '/api/admin/providers', {
      id: 'spare',
      type: 'openai-compatible',
      label: 'Spare',
      baseUrl: 'https://93.184.215.9/v1',
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    await page.goto('/settings/status');
    const spare = page.locator('[data-provider="spare"] .provider-head .badge');
    assert.equal(await spare.innerText(), 'No requests yet');
    assert.match((await spare.getAttribute('class')) ?? '', /\bneutral\b/, 'grey, not green');

    // An outage the tests make health memory see, then the provider recovers.
    const card = page.locator('[data-provider="sim-a"]');
    const badge = card.locator('.provider-head .badge').first();
    await setOutage('sim-a', 'overloaded');
    try {
      for (let i = 0; i < 5 && !/^Unavailable/.test(await badge.innerText()); i++) {
        await api(owner.context.request, 'POST', '/api/admin/providers/sim-a/test', {});
        await page.waitForTimeout(2100); // the page refreshes every 2 s
      }
      assert.match(
        await badge.innerText(),
        /^Unavailable: .* · (tried again in \d+ s|the next request tries it again)$/,
      );
      await shot(page, 'status-unavailable.png');
    } finally {
      await setOutage('sim-a', 'none');
    }
    const back = await api(owner.context.request, 'POST', '/api/admin/providers/sim-a/test', {});
    assert.equal(back.body.ok, true, JSON.stringify(back.body));
    await card
      .locator('.provider-head .badge.good')
      .filter({ hasText: /^Healthy$/ })
      .waitFor();
    noConsoleErrors(owner);
  });

  it('H: on a phone the Members, API keys, Fallback activity and audit log tables are cards that fit the screen', async () => {
    const req = owner.context.request;
    // A second member, so the Members table has a Remove button (nobody removes themselves). The
    // invitation is accepted in a context of its own: its session must not replace the Owner's.
    const inv = await api(req, 'POST', '/api/admin/invitations', {
      email: 'maximiliana.member@example.com',
      role: 'member',
    });
    assert.equal(inv.status, 201, JSON.stringify(inv.body));
    const guest = await openPage(h);
    try {
      const joined = await api(guest.context.request, 'POST', '/api/invitations/accept', {
        token: new URL(String(inv.body.acceptUrl)).pathname.split('/').pop(),
        name: 'Maximiliana Member',
        password: PASSWORD,
      });
      assert.equal(joined.status, 201, JSON.stringify(joined.body));
    } finally {
      await guest.context.close();
    }
    // At least one API key (B leaves "Probe"), and one fallback (B and C leave some).
    let keys = (await api(req, 'GET', '/api/admin/api-keys')).body.apiKeys as { name: string }[];
    if (keys.length === 0) {
      const k = await api(req, 'POST', '/api/admin/api-keys', { name: 'Phone probe' });
      assert.equal(k.status, 201, JSON.stringify(k.body));
      keys = (await api(req, 'GET', '/api/admin/api-keys')).body.apiKeys as { name: string }[];
    }
    const activity = await api(req, 'GET', '/api/admin/fallback-activity?days=14');
    assert.ok((activity.body.events as unknown[]).length > 0, 'earlier tests left fallbacks to list');

    const { page } = owner;
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      const inside = (box: { x: number; width: number } | null, what: string) =>
        assert.ok(
          box && box.x >= 0 && box.x + box.width <= 390,
          `${what} inside the screen: ${JSON.stringify(box)}`,
        );
      const pages = [
        {
          path: '/settings/members',
          heading: 'Members',
          action: 'Remove Maximiliana Member',
          label: 'Email',
        },
        {
          path: '/settings/api-keys',
          heading: 'API keys',
          action: `Revoke ${keys[0]?.name}`,
          label: 'Created',
        },
        { path: '/settings/activity', heading: 'Fallback activity', action: undefined, label: 'Outcome' },
        // Its changes were a column a few letters wide, off the screen beside When, Who and What.
        { path: '/settings/audit', heading: 'Audit log', action: undefined, label: 'Old → new' },
      ];
      for (const { path, heading, action, label } of pages) {
        await page.goto(path);
        await page.getByRole('heading', { name: heading, exact: true }).waitFor();
        const table = page.getByRole('table');
        // The explicit roles keep it a table with headers, rows and cells for screen readers.
        await table.getByRole('columnheader', { name: label }).waitFor({ state: 'attached' });
        await table.getByRole('row').nth(1).getByRole('cell').first().waitFor();
        // Strings, not functions: this file is type-checked without the DOM library.
        const overflow = await page.evaluate(
          'document.documentElement.scrollWidth - document.documentElement.clientWidth',
        );
        assert.equal(overflow, 0, `${path}: the page is not wider than the phone`);
        inside(await table.boundingBox(), `${path}: the table`);
        // No cell is pushed off the screen, and the cells say what they are.
        const right = Number(
          await page.evaluate(
            'Math.max(...[...document.querySelectorAll("#main table td")].map((td) => td.getBoundingClientRect().right))',
          ),
        );
        assert.ok(right <= 390, `${path}: a cell ends at ${right}px`);
        const before = await page.evaluate(
          `getComputedStyle(document.querySelector('.card-table td[data-label="${label}"]'), '::before').content`,
        );
        assert.equal(before, `"${label}: "`, path);
        if (action) {
          const button = table.getByRole('button', { name: action, exact: true });
          assert.ok(await button.isVisible(), `${path}: ${action} is visible`);
          inside(await button.boundingBox(), `${path}: ${action}`);
        }
        await shot(page, `${path.split('/').pop()}-phone.png`, true);
      }
      noConsoleErrors(owner);
    } finally {
      await page.setViewportSize({ width: 1280, height: 820 });
    }
  });

  it('I: an image in an answer is a link to it, and nothing is fetched until it is clicked', async () => {
    const { page } = owner;
    const id = answered;
    assert.ok(id, 'B left a conversation with a complete answer');
    const src = 'http://127.0.0.1:1/pixel.png?x=secret';
    // A stored answer as a model tricked by injected text would have written it.
    await page.route(conversationRead(id), async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { messages: { role: string; content: string }[] };
      for (const m of body.messages) if (m.role === 'assistant') m.content = `Done. ![status](${src})`;
      await route.fulfill({ response: res, json: body });
    });
    const fetched: string[] = [];
    const onRequest = (r: { url(): string }) =>
      r.url().startsWith('http://127.0.0.1:1/') && fetched.push(r.url());
    page.on('request', onRequest);
    try {
      await page.goto(`/c/${id}`);
      const msg = answers(page).first();
      const link = msg.getByRole('link', { name: 'Image: status' });
      await link.waitFor();
      assert.equal(await link.getAttribute('href'), src);
      assert.equal(await link.getAttribute('target'), '_blank');
      assert.equal(await link.getAttribute('rel'), 'noopener noreferrer nofollow');
      // Seen: a picture icon and the alt text; heard: "Image: status".
      assert.equal(await link.textContent(), 'Image: status');
      await link.locator('svg[aria-hidden="true"]').waitFor();
      assert.equal(await page.locator(`img[src="${src}"]`).count(), 0, 'no <img> of the URL');
      assert.equal(await msg.locator('.markdown img').count(), 0, 'no image in the answer');
      await page.waitForTimeout(300);
      assert.deepEqual(fetched, [], 'nothing fetched from the image host');
      await shot(page, 'chat-image-link.png');
    } finally {
      page.off('request', onRequest);
      await page.unroute(`**/api/conversations/${id}`);
    }
    noConsoleErrors(owner);
  });

  it('J: on a phone the amber icon stays beside its token counter; a tap opens its tooltip, and a second tap closes it', async () => {
    const id = answered;
    assert.ok(id, 'B left a conversation with a fallback answer');
    const context = await h.browser.newContext({
      viewport: { width: 390, height: 844 },
      hasTouch: true,
      isMobile: true,
      baseURL: h.url,
      storageState: await owner.context.storageState(),
    });
    context.setDefaultTimeout(10_000);
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      await page.goto(`/c/${id}`);
      const icon = answers(page).first().getByRole('button', { name: 'Answered by backup model' });
      const tooltip = page.getByRole('tooltip');
      // The help article's place for the icon, beside the token counter, holds on a narrow header
      // (at some widths the counter fits on the first line and the icon alone did not).
      for (const width of [320, 340, 350, 360, 375, 390]) {
        await page.setViewportSize({ width, height: 844 });
        const counter = await answers(page).first().locator('.tokens').boundingBox();
        const iconBox = await icon.boundingBox();
        const where = JSON.stringify({ width, counter, iconBox });
        assert.ok(
          counter && iconBox && Math.abs(counter.y - iconBox.y + (counter.height - iconBox.height) / 2) < 4,
          `the icon is on the token counter's line: ${where}`,
        );
        assert.ok(iconBox.x > counter.x + counter.width, `right after the counter: ${where}`);
      }
      await icon.tap();
      await tooltip.waitFor({ state: 'visible' });
      // A phone browser ends the tap with a mouseleave (Playwright's tap does not): replayed here.
      // It must not close the tooltip the tap just opened.
      await icon.dispatchEvent('mouseout');
      await page.waitForTimeout(300);
      assert.ok(await tooltip.isVisible(), 'the tooltip stays open after the tap');
      const box = await tooltip.boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `inside the screen: ${JSON.stringify(box)}`);
      await shot(page, 'tooltip-phone-tap.png');
      await icon.tap();
      await icon.dispatchEvent('mouseout');
      await tooltip.waitFor({ state: 'hidden' });
      await page.waitForTimeout(300);
      assert.equal(await tooltip.isVisible(), false, 'a second tap closes it');
      // A third tap opens it again; a tap elsewhere (blur) closes it.
      await icon.tap();
      await tooltip.waitFor({ state: 'visible' });
      await page.getByRole('heading', { level: 2 }).last().tap();
      await tooltip.waitFor({ state: 'hidden' });
      assert.deepEqual(errors, [], 'console errors');
    } finally {
      await context.close();
    }
  });

  it('K: New chat focuses the message box; Rename offers the current title, Escape cancels, the heading follows', async () => {
    const { page } = owner;
    const focused = async (l: Locator) => (await l.and(page.locator(':focus')).count()) === 1;
    const box = page.getByLabel('Message', { exact: true });
    await page.goto('/');
    await page.getByRole('button', { name: 'New chat with Ada' }).click();
    await page.waitForURL(/\/c\//);
    await box.waitFor();
    // Polled by locators: the page's CSP forbids waitForFunction's string evaluation.
    await box.and(page.locator(':focus')).waitFor();
    assert.ok(await focused(box), 'the message box has the focus after New chat');
    // The first message names the conversation.
    await box.fill('Rename me later please');
    await page.keyboard.press('Enter');
    const heading = page.locator('h2.conv-title');
    await heading.filter({ hasNotText: /^Chat with / }).waitFor();
    const title = await heading.innerText();
    await answers(page).first().and(page.locator('[data-status="complete"]')).waitFor({ timeout: 20_000 });
    // The pencil opens with the title as it is now, not the one the row was first shown with.
    await page.getByRole('button', { name: `Rename ${title}` }).click();
    const input = page.getByLabel('New title');
    assert.equal(await input.inputValue(), title);
    // Escape cancels: the title is unchanged.
    await input.fill('Not this one');
    await input.press('Escape');
    await input.waitFor({ state: 'detached' });
    await page.getByRole('link', { name: title, exact: true }).waitFor();
    assert.equal(await heading.innerText(), title);
    // A rename shows in the list and in the heading at once.
    await page.getByRole('button', { name: `Rename ${title}` }).click();
    assert.equal(await input.inputValue(), title, 'the cancelled draft is not kept');
    await input.fill('Renamed chat');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('link', { name: 'Renamed chat', exact: true }).waitFor();
    await page.getByRole('heading', { name: 'Renamed chat', exact: true }).waitFor();
    assert.equal(await heading.innerText(), 'Renamed chat');
    noConsoleErrors(owner);
  });

  it('L: a title over 200 characters cannot be typed, and a refused rename says why next to the form', async () => {
    const { page } = owner;
    const { title } = await openNew();
    await page.getByRole('heading', { name: title, exact: true }).waitFor();
    await page
      .getByRole('button', { name: `Rename ${title}` })
      .first()
      .click();
    const input = page.getByLabel('New title');
    assert.equal(await input.getAttribute('maxlength'), '200');
    // Past the box's limit (e.g. a browser that ignores it): the server refuses, the form says so.
    await page.evaluate('document.querySelector("form.rename input").removeAttribute("maxlength")');
    await input.fill('x'.repeat(201));
    owner.expectError('400');
    await page.getByRole('button', { name: 'Save' }).click();
    const alert = page.locator('form.rename').getByRole('alert');
    await alert.waitFor();
    assert.equal(await alert.innerText(), 'A title is at most 200 characters.');
    assert.equal(await input.count(), 1, 'the form stays open');
    await shot(page, 'rename-refused.png');
    await input.press('Escape');
    await input.waitFor({ state: 'detached' });
    noConsoleErrors(owner);
  });

  it('M: after Stop and after Retry the focus is in the message box, not on <body>', async () => {
    const { page } = owner;
    await openNew();
    const box = page.getByLabel('Message', { exact: true });
    await box.fill('Write slowly please');
    await page.keyboard.press('Enter');
    const msg = answers(page).first();
    await msg.locator('.markdown').waitFor();
    await page.getByRole('button', { name: 'Stop' }).click();
    await msg.and(page.locator('[data-status="cancelled"]')).waitFor();
    assert.equal(await page.evaluate('document.activeElement?.id'), 'composer-input', 'after Stop');
    await msg.getByRole('button', { name: 'Retry' }).click();
    assert.equal(await page.evaluate('document.activeElement?.id'), 'composer-input', 'after Retry');
    await msg.and(page.locator('[data-status="complete"]')).waitFor({ timeout: 20_000 });
    assert.equal(await page.evaluate('document.activeElement?.id'), 'composer-input', 'once answered');
    noConsoleErrors(owner);
  });

  it('S: a refused sign-in leaves the keyboard focus on Sign in, not on <body>', async () => {
    const guest = await openPage(h);
    try {
      const { page } = guest;
      await page.goto('/');
      await page.getByLabel('Email').fill('nobody@example.com');
      await page.getByLabel('Password').fill('not the password');
      guest.expectError('401');
      await page.getByRole('button', { name: 'Sign in' }).focus();
      await page.keyboard.press('Enter');
      await page.getByRole('alert').waitFor();
      // The button was disabled while the request ran, which sent the focus to <body>.
      assert.equal(await page.evaluate('document.activeElement?.textContent'), 'Sign in');
      assert.deepEqual(guest.errors, [], 'console errors');
    } finally {
      await guest.context.close();
    }
  });

  it('N: past 100 conversations the list shows the newest, and the older ones once scrolled to', async () => {
    const { page, context } = owner;
    type Page = { conversations: { id: string }[]; next: string | null };
    let have = (await api(context.request, 'GET', '/api/conversations?limit=500')).body as unknown as Page;
    for (let i = have.conversations.length; i < 103; i++) {
      const c = await api(context.request, 'POST', '/api/conversations', { mateId, title: `Old chat ${i}` });
      assert.equal(c.status, 201, JSON.stringify(c.body));
    }
    have = (await api(context.request, 'GET', '/api/conversations?limit=500')).body as unknown as Page;
    const total = have.conversations.length;
    assert.ok(total > 100);
    await page.goto('/');
    const rows = page.locator('.conv-list > li');
    const older = page.getByRole('button', { name: 'Show older conversations' });
    await older.waitFor();
    assert.equal(await rows.count(), 100, 'the first page');
    await shot(page, 'conversations-older.png');
    // Scrolled to, the button loads the older ones by itself (a5a70c7); a click does the same.
    await older.scrollIntoViewIfNeeded();
    await older.waitFor({ state: 'detached' });
    assert.equal(await rows.count(), total, 'all of them, once each');
    const links: string[] = [];
    for (const a of await page.locator('.conv-list > li a.conv-link').all())
      links.push(String(await a.getAttribute('href')));
    assert.deepEqual(
      links,
      have.conversations.map((c) => `/c/${c.id}`),
      'in the server order',
    );
    noConsoleErrors(owner);
  });

  it('O: a second tab shows what another tab added (a message, a conversation) once it is in front again', () =>
    secondTabCatchesUp({
      // The member comes back to the second tab.
      catchUp: (other) => other.evaluate('window.dispatchEvent(new Event("focus"))'),
    }));

  it("P: the conversation list is one Tab stop; arrows, Home and End move in it, Tab reaches the row's buttons", async () => {
    const { page, context } = owner;
    // N made over 100 conversations: the list pages, so "Show older" follows the first 100.
    const listed = (await api(context.request, 'GET', '/api/conversations')).body as unknown as {
      conversations: { id: string; title: string }[];
    };
    const all = (await api(context.request, 'GET', '/api/conversations?limit=500')).body as unknown as {
      conversations: { id: string }[];
    };
    const [first, second, third] = listed.conversations;
    const next = all.conversations[100];
    const last = all.conversations.at(-1);
    assert.ok(first && second && third && next && last && listed.conversations.length === 100);
    await page.goto('/');
    const older = page.getByRole('button', { name: 'Show older conversations' });
    await older.waitFor();
    const focused = page.locator(':focus');
    const isFocused = async (l: Locator, what: string) =>
      assert.equal(await l.and(focused).count(), 1, `${what} has the focus`);
    const link = (c: { id: string }) => page.locator(`a.conv-link[href="/c/${c.id}"]`);

    await page.getByRole('button', { name: 'New chat with Ada' }).focus();
    await page.keyboard.press('Tab');
    await isFocused(link(first), "the newest conversation, the list's one Tab stop");
    assert.equal(
      await link(first)
        .getAttribute('aria-describedby')
        .then((id) => page.locator(`#${id}`).innerText()),
      'Up and Down arrows move between conversations.',
    );
    await page.keyboard.press('Tab');
    await isFocused(page.getByRole('button', { name: `Rename ${first.title}`, exact: true }), 'its Rename');
    await page.keyboard.press('Tab');
    await isFocused(page.getByRole('button', { name: `Delete ${first.title}`, exact: true }), 'its Delete');
    // Past the 100 rows in four Tabs: Show older. Reached, it loads the older ones (scrolled into
    // view), and the focus moves to the first of them rather than falling to the page with the
    // button; a quick load may have moved it there before this looks.
    await page.keyboard.press('Tab');
    await older.or(link(next)).and(focused).waitFor({ timeout: 5000 });
    await older.waitFor({ state: 'detached' });
    await link(next).and(focused).waitFor();
    await isFocused(link(next), 'the first older conversation, once loaded');

    await page.keyboard.press('Home');
    await isFocused(link(first), 'back on the first row');
    await page.keyboard.press('ArrowDown');
    await isFocused(link(second), 'ArrowDown');
    await page.keyboard.press('End');
    await isFocused(link(last), 'End');
    await page.keyboard.press('ArrowDown');
    await isFocused(link(last), 'ArrowDown on the last row stays');
    await page.keyboard.press('Home');
    await isFocused(link(first), 'Home');
    await page.keyboard.press('ArrowUp');
    await isFocused(link(first), 'ArrowUp on the first row stays');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await isFocused(link(third), 'two rows down');
    await shot(page, 'conversation-keys.png');
    await page.keyboard.press('Tab');
    await isFocused(
      page.getByRole('button', { name: `Rename ${third.title}`, exact: true }),
      "the focused row's Rename",
    );
    await page.keyboard.press('ArrowUp');
    await isFocused(link(second), "ArrowUp from a row's button");
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/c/${second.id}`);
    assert.equal(await link(second).getAttribute('aria-current'), 'page');

    // Opened from elsewhere, the open conversation is the list's Tab stop.
    await page.goto(`/c/${third.id}`);
    await page.getByLabel('Message', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'New chat with Ada' }).focus();
    await page.keyboard.press('Tab');
    await isFocused(link(third), 'the open conversation');
    const tabbable = await page.locator('.conv-list [tabindex="0"], .conv-list a:not([tabindex])').count();
    assert.equal(tabbable, 3, "one row's link, Rename and Delete are tabbable");

    // In the rename box the arrows and Home/End move the caret, not the focus.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    const box = page.getByLabel('New title');
    await box.waitFor();
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowDown');
    await isFocused(box, 'the rename box keeps the focus');
    await page.keyboard.press('Escape');
    noConsoleErrors(owner);
  });

  it('Q: a page in front shows, within seconds, what another window did (no tab return needed)', () =>
    secondTabCatchesUp({
      // A fake clock: the catch-up interval passes at once, without waiting 15 real seconds.
      beforeLoad: (other) => other.clock.install(),
      // Time stands still from here on, however long the answer takes on a slow machine.
      loaded: async (other) => {
        await other.clock.pauseAt(Date.now() + 1_000);
        assert.equal(await other.evaluate('document.visibilityState'), 'visible');
      },
      catchUp: async (other, shown) => {
        // No focus or visibility event is sent: before the interval nothing new shows.
        await other.clock.runFor(1_000);
        for (const l of shown) assert.equal(await l.count(), 0, 'not before the interval');
        await other.clock.runFor(15_000);
      },
    }));

  it('R: a chat tab runs one catch-up timer for the session, the list and the open conversation', async () => {
    const second = await openNew();
    const { id } = await openNew();
    const other = await owner.context.newPage();
    // Counts the page's live intervals by their period: the app's own, from its first script on.
    await other.addInitScript(`{
      const live = new Map();
      const set = window.setInterval.bind(window);
      const clear = window.clearInterval.bind(window);
      window.setInterval = (fn, ms, ...args) => {
        const timer = set(fn, ms, ...args);
        live.set(timer, ms);
        return timer;
      };
      window.clearInterval = (timer) => {
        live.delete(timer);
        clear(timer);
      };
      window.__intervals = () => [...live.values()];
    }`);
    const intervals = () => other.evaluate('window.__intervals()');
    try {
      await other.goto(`/c/${id}`);
      await other.getByText('Say hello to', { exact: false }).waitFor();
      assert.deepEqual(await intervals(), [15_000], 'one timer for the three catch-ups');
      // Another conversation opened in the same page: its catch-up joins the same timer.
      await other.locator(`a.conv-link[href="/c/${second.id}"]`).click();
      await other.locator(`a.conv-link[href="/c/${second.id}"][aria-current="page"]`).waitFor();
      assert.deepEqual(await intervals(), [15_000], 'still one after opening another conversation');
    } finally {
      await other.close();
    }
    noConsoleErrors(owner);
  });
});
