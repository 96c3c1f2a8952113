/**
 * The web app in a real browser (Debian's Chromium through playwright-core) against the real server
 * and the built-in simulator: first-run setup, chat with and without fallback (amber icon and its
 * tooltip), Stop, leaving and coming back, None with Retry, the Fallback Model setting, and a
 * Member who sees no settings. The steps share one server and run in order.
 * `UPDATE_SCREENSHOTS=1` also writes the README's screenshots to docs/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import {
  api,
  CHROMIUM,
  openPage,
  PASSWORD,
  REPO_ROOT,
  startHarness,
  type Harness,
  type WatchedPage,
} from './harness.js';

const SKIP_LINE = `chromium not found at ${CHROMIUM}: browser tests skipped`;
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium && process.env.CI === 'true')
  throw new Error(`${SKIP_LINE} (but CI=true: Chromium is required)`);

const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1';
const DOCS = join(REPO_ROOT, 'docs');
const BACKUP_LABEL = 'Sim B Large (simulated)';
const DEFAULT_LABEL = 'Sim A Large (simulated)';

/** The assistant messages of the open conversation. */
const answers = (page: Page) => page.locator('li.msg-assistant');

/**
 * Sends a message in the open conversation and waits until its answer (the `index`-th assistant
 * message, given explicitly: counting could race a conversation still loading) reaches `status`.
 */
async function sendAndWait(page: Page, index: number, text: string, status = 'complete'): Promise<void> {
  if (index > 0)
    await answers(page)
      .nth(index - 1)
      .waitFor();
  assert.equal(await answers(page).count(), index, 'assistant messages before sending');
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.keyboard.press('Enter');
  await answers(page)
    .nth(index)
    .and(page.locator(`[data-status="${status}"]`))
    .waitFor({ timeout: 20_000 });
}

async function setOutage(o: WatchedPage, provider: string, fault: string): Promise<void> {
  const r = await api(o.context.request, 'PUT', `/api/admin/demo/providers/${provider}/outage`, { fault });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

describe('web app in Chromium', { skip: hasChromium ? false : SKIP_LINE, timeout: 120_000 }, () => {
  let h: Harness;
  let owner: WatchedPage;
  let conversationUrl = '';

  before(async () => {
    h = await startHarness();
    owner = await openPage(h);
  });
  after(async () => {
    await h?.close();
  });

  const noConsoleErrors = (o: WatchedPage) => assert.deepEqual(o.errors, [], 'console errors');

  it('first-run setup creates the organization and signs the Owner in', async () => {
    const { page } = owner;
    await page.goto(`/setup?token=${encodeURIComponent(h.server.ctx.setupToken ?? '')}`);
    await page.getByLabel('Organization name').fill('Acme');
    await page.getByLabel('Your name').fill('Olivia Owner');
    await page.getByLabel('Email').fill('owner@example.com');
    await page.getByLabel('Password (10+ characters)').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.getByRole('link', { name: 'Organization Settings' }).waitFor();
    // A Mate to talk to, through the Mates settings.
    await page.getByRole('link', { name: 'Organization Settings' }).click();
    await page.getByRole('link', { name: 'Mates' }).click();
    await page.getByLabel('Name').fill('Ada');
    await page.getByLabel('Instructions').fill('Be brief.');
    await page.getByRole('button', { name: 'Create Mate' }).click();
    await page.getByText('Ada', { exact: true }).waitFor();
    noConsoleErrors(owner);
  });

  it('a normal answer streams in with a header and no amber icon', async () => {
    const { page } = owner;
    await page.getByRole('link', { name: 'Chat' }).click();
    await page.getByRole('button', { name: 'New chat with Ada' }).click();
    await page.waitForURL(/\/c\//);
    conversationUrl = page.url();
    await sendAndWait(page, 0, 'Hello there');
    const msg = answers(page).first();
    const header = msg.locator('.msg-header');
    assert.match(await header.innerText(), /Ada/);
    assert.match(await header.innerText(), new RegExp(DEFAULT_LABEL.replace(/[()]/g, '\\$&')));
    assert.match(await header.innerText(), /\d+ tokens/);
    assert.ok((await msg.locator('.markdown').innerText()).length > 10);
    assert.equal(await page.getByRole('button', { name: 'Answered by backup model' }).count(), 0);
    noConsoleErrors(owner);
  });

  it('a fallback answer shows the amber icon; hover and focus show who answered and why', async () => {
    const { page } = owner;
    // The outage switch of Provider status, as an admin would flip it.
    await page.getByRole('link', { name: 'Organization Settings' }).click();
    await page.getByRole('link', { name: 'Provider status' }).click();
    await page.getByRole('switch', { name: /Simulate an outage of Simulator A/ }).check();
    await page.getByText('Simulated outage: overloaded').waitFor();
    await page.goto(conversationUrl);
    await sendAndWait(page, 1, 'Are you still there?');
    const icon = answers(page).nth(1).getByRole('button', { name: 'Answered by backup model' });
    await icon.waitFor();
    assert.equal(
      await answers(page).first().getByRole('button', { name: 'Answered by backup model' }).count(),
      0,
    );
    const tooltip = page.getByRole('tooltip');
    assert.equal(await tooltip.isVisible(), false);
    await icon.hover();
    await tooltip.waitFor({ state: 'visible' });
    const text = await tooltip.innerText();
    assert.match(text, new RegExp(`backup model ${BACKUP_LABEL.replace(/[()]/g, '\\$&')}`));
    assert.match(text, /original provider Simulator A \(OpenAI protocol\) was unavailable/);
    assert.match(text, /was overloaded/);
    assert.equal(await icon.getAttribute('aria-describedby'), await tooltip.getAttribute('id'));
    if (SCREENSHOTS) {
      mkdirSync(DOCS, { recursive: true });
      await page.screenshot({ path: join(DOCS, 'screenshot-chat-fallback.png') });
    }
    await page.mouse.move(0, 0);
    await tooltip.waitFor({ state: 'hidden' });
    // Keyboard: Tab onto the icon shows the tooltip; Escape hides it.
    await page.getByRole('button', { name: 'Answered by backup model' }).focus();
    await tooltip.waitFor({ state: 'visible' });
    await page.keyboard.press('Escape');
    await tooltip.waitFor({ state: 'hidden' });
    noConsoleErrors(owner);
  });

  it('a mid-answer takeover ends with the complete text', async () => {
    const { page } = owner;
    await setOutage(owner, 'sim-a', 'cut_after');
    await sendAndWait(page, 2, 'Tell me a longer story');
    const msg = answers(page).nth(2);
    await msg.getByRole('button', { name: 'Answered by backup model' }).waitFor();
    const id = conversationUrl.split('/c/')[1] ?? '';
    const stored = await api(owner.context.request, 'GET', `/api/conversations/${id}`);
    const last = (stored.body.messages as { content: string; status: string }[]).at(-1);
    assert.equal(last?.status, 'complete');
    assert.equal((await msg.locator('.markdown').innerText()).trim(), last?.content.trim());
    await setOutage(owner, 'sim-a', 'none');
    noConsoleErrors(owner);
  });

  it('Stop stops an answer in progress, and Retry is offered', async () => {
    const { page } = owner;
    await answers(page).nth(2).and(page.locator('[data-status="complete"]')).waitFor();
    await page.getByLabel('Message', { exact: true }).fill('Write slowly please');
    await page.keyboard.press('Enter');
    const msg = answers(page).nth(3);
    // Stop once some text has arrived.
    await msg.locator('.markdown').waitFor();
    await page.getByRole('button', { name: 'Stop' }).click();
    await msg.and(page.locator('[data-status="cancelled"]')).waitFor();
    const text = await msg.locator('.markdown').innerText();
    await page.waitForTimeout(500);
    assert.equal(await msg.locator('.markdown').innerText(), text, 'no text after Stop');
    await msg.getByRole('button', { name: 'Retry' }).waitFor();
    assert.ok(await page.getByRole('button', { name: 'Send' }).isVisible());
    noConsoleErrors(owner);
  });

  it('leaving and coming back shows the answer that finished meanwhile', async () => {
    const { page } = owner;
    await page.getByLabel('Message', { exact: true }).fill('Answer while I am away');
    await page.keyboard.press('Enter');
    await answers(page).nth(4).locator('.markdown').waitFor();
    await page.getByRole('link', { name: 'Organization Settings' }).click();
    await page.getByRole('heading', { name: 'Models Management' }).waitFor();
    await page.waitForTimeout(4500);
    await page.goto(conversationUrl);
    const msg = answers(page).nth(4);
    await msg.and(page.locator('[data-status="complete"]')).waitFor();
    assert.match(await msg.locator('.msg-header').innerText(), /\d+ tokens/);
    noConsoleErrors(owner);
  });

  it('an Admin sets a Specific Fallback Model; the list excludes the Default Model', async () => {
    const { page } = owner;
    await page.goto('/settings/models/settings');
    const fallback = page.getByLabel('Fallback Model');
    await fallback.locator('option', { hasText: 'None' }).waitFor({ state: 'attached' });
    const options = await fallback.locator('option').allInnerTexts();
    assert.deepEqual(options.slice(0, 2), ['Automatic (default)', 'None']);
    assert.ok(!options.includes(DEFAULT_LABEL), `Default Model offered: ${options.join(', ')}`);
    assert.ok(options.includes('Sim B Medium (simulated)'));
    assert.equal(await page.getByLabel('Default Model').inputValue(), 'sim-a-large');
    await fallback.selectOption({ label: 'Sim B Medium (simulated)' });
    await page.getByText('Fallback Model saved.').waitFor();
    const s = await api(owner.context.request, 'GET', '/api/admin/settings');
    assert.deepEqual(s.body.fallback, { mode: 'specific', model: 'sim-b-medium' });
    if (SCREENSHOTS) await page.screenshot({ path: join(DOCS, 'screenshot-settings.png') });
    // Making the Specific Model the Default Model is refused, with the rule explained inline.
    owner.expectError('status of 400');
    await page.getByLabel('Default Model').selectOption('sim-b-medium');
    const refusal = page.getByRole('alert').filter({ hasText: 'Not saved' });
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /cannot (also )?be the Default Model/);
    assert.match(await refusal.innerText(), /a model cannot back itself up/);
    await page.reload();
    assert.equal(await page.getByLabel('Default Model').inputValue(), 'sim-a-large');
    noConsoleErrors(owner);
  });

  it('with None a failure shows the standard error, and Retry works once the provider is back', async () => {
    const { page } = owner;
    await page.getByLabel('Fallback Model').selectOption('none');
    await page.getByText('Fallback Model saved.').waitFor();
    await setOutage(owner, 'sim-a', 'unavailable');
    await page.goto(conversationUrl);
    await sendAndWait(page, 5, 'Are you down?', 'failed');
    const msg = answers(page).nth(5);
    const err = msg.getByRole('alert');
    assert.match(await err.innerText(), /Ada could not answer/);
    assert.match(await err.innerText(), /Sim A Large \(simulated\) \(sim-a\)/);
    assert.equal(await msg.getByRole('button', { name: 'Answered by backup model' }).count(), 0);
    await setOutage(owner, 'sim-a', 'none');
    await msg.getByRole('button', { name: 'Retry' }).click();
    await msg.and(page.locator('[data-status="complete"]')).waitFor({ timeout: 20_000 });
    assert.equal(await msg.getByRole('alert').count(), 0);
    assert.equal(await msg.getByRole('button', { name: 'Answered by backup model' }).count(), 0);
    // Cut mid-answer with no fallback: the partial text stays, marked interrupted, with Retry.
    await setOutage(owner, 'sim-a', 'cut_after');
    await sendAndWait(page, 6, 'Go on and on', 'interrupted');
    const cut = answers(page).nth(6);
    assert.match(await cut.getByRole('alert').innerText(), /The answer was interrupted/);
    assert.ok((await cut.locator('.markdown').innerText()).trim().length > 0, 'partial text kept');
    await setOutage(owner, 'sim-a', 'none');
    await cut.getByRole('button', { name: 'Retry' }).click();
    await cut.and(page.locator('[data-status="complete"]')).waitFor({ timeout: 20_000 });
    noConsoleErrors(owner);
  });

  it('conversations can be renamed and deleted', async () => {
    const { page } = owner;
    await page.goto('/');
    await page.getByRole('button', { name: 'New chat with Ada' }).click();
    await page.waitForURL(/\/c\//);
    await page.getByRole('heading', { name: 'Chat with Ada' }).waitFor();
    await page.getByRole('button', { name: 'Rename Chat with Ada' }).first().click();
    await page.getByLabel('New title').fill('Throwaway');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('link', { name: 'Throwaway' }).waitFor();
    await page.getByRole('button', { name: 'Delete Throwaway' }).click();
    await page.getByRole('button', { name: 'Delete?' }).click();
    await page.getByRole('link', { name: 'Throwaway' }).waitFor({ state: 'detached' });
    await page.waitForURL((u) => u.pathname === '/');
    noConsoleErrors(owner);
  });

  it('admin pages: models, providers, API keys, audit log and fallback activity', async () => {
    const { page } = owner;
    // Models: reorder, edit facts, disable and enable again.
    await page.goto('/settings/models');
    await page.getByRole('button', { name: 'Move Sim B Large (simulated) up' }).click();
    await page.getByRole('button', { name: 'Move Sim B Large (simulated) down' }).waitFor();
    let models = await api(owner.context.request, 'GET', '/api/admin/models');
    assert.deepEqual(
      (models.body.models as { id: string }[]).slice(0, 2).map((m) => m.id),
      ['sim-b-large', 'sim-a-large'],
    );
    const small = page.getByRole('row').filter({ hasText: 'sim-b-small' });
    await small.getByRole('button', { name: 'Edit' }).click();
    await page
      .getByRole('form', { name: 'Edit Sim B Small (simulated)' })
      .getByLabel('Label')
      .fill('Sim B Tiny');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Sim B Tiny', { exact: true }).waitFor();
    await page.getByRole('checkbox', { name: 'Enabled: Sim B Tiny' }).uncheck();
    models = await api(owner.context.request, 'GET', '/api/admin/models');
    const tiny = (models.body.models as { id: string; enabled: boolean }[]).find(
      (m) => m.id === 'sim-b-small',
    );
    assert.equal(tiny?.enabled, false);
    await page.getByRole('checkbox', { name: 'Enabled: Sim B Tiny' }).check();
    // Providers: test a connection; add one with a key, which is never shown back; rotate it.
    await page.getByRole('link', { name: 'Providers' }).click();
    const simA = page.getByRole('listitem').filter({ hasText: 'Simulator A (OpenAI protocol)' });
    await simA.getByRole('button', { name: 'Test connection' }).click();
    await simA.getByText(/Connection works/).waitFor();
    await page.getByLabel('Id (e.g. openai-main)').fill('groq');
    await page.getByLabel('Type').selectOption('openai-compatible');
    await page.getByLabel('Label', { exact: true }).fill('Groq');
    await page.getByLabel(/Base URL/).fill('https://203.0.113.7/openai/v1');
    await page.getByLabel('API key').fill('sk-secret-first-key');
    await page.getByRole('button', { name: 'Add provider' }).click();
    const groq = page.getByRole('listitem').filter({ hasText: 'Groq' });
    await groq.getByText('API key: set (hidden)').waitFor();
    await groq.getByRole('button', { name: 'Rotate key' }).click();
    await groq.getByLabel('New API key for Groq').fill('sk-secret-second-key');
    await groq.getByRole('button', { name: 'Save key' }).click();
    await groq.getByLabel('New API key for Groq').waitFor({ state: 'detached' });
    assert.doesNotMatch(await page.content(), /sk-secret/);
    // API keys: created, shown once, revoked.
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByLabel('Name of the new key').fill('CI bot');
    await page.getByRole('button', { name: 'Create key' }).click();
    const shown = await page.locator('.notice code').innerText();
    assert.match(shown, /^us-/);
    await page.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('cell', { name: 'CI bot' }).waitFor({ state: 'detached' });
    // Audit log and Fallback activity show what happened above.
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page
      .getByRole('cell', { name: /settings\.update/ })
      .first()
      .waitFor();
    assert.doesNotMatch(await page.content(), /sk-secret/);
    await page.getByRole('link', { name: 'Fallback activity' }).click();
    await page.getByRole('img', { name: /Fallbacks per provider in the last 14 days: sim-a \d+/ }).waitFor();
    assert.ok((await page.getByRole('row').filter({ hasText: 'was overloaded' }).count()) >= 1);
    noConsoleErrors(owner);
  });

  it('settings pages fit a phone-width window', async () => {
    const { page } = owner;
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [path, heading] of [
      ['/settings/models', 'Models Management'],
      ['/settings/models/settings', 'Models Management'],
      ['/settings/status', 'Provider status'],
      ['/settings/activity', 'Fallback activity'],
      ['/settings/members', 'Members'],
    ] as const) {
      await page.goto(path);
      await page.getByRole('heading', { name: heading, exact: true }).waitFor();
      const overflow = Number(
        await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'),
      );
      assert.ok(overflow <= 0, `${path} is ${overflow}px wider than a phone`);
    }
    if (SCREENSHOTS)
      await page.screenshot({ path: join(DOCS, 'screenshot-phone-settings.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 820 });
    noConsoleErrors(owner);
  });

  it('a Member sees no settings, and the server refuses them', async () => {
    const inv = await api(owner.context.request, 'POST', '/api/admin/invitations', {
      email: 'mia@example.com',
      role: 'member',
    });
    assert.equal(inv.status, 201);
    const member = await openPage(h, { width: 390, height: 844 });
    const { page } = member;
    await page.goto(new URL(String(inv.body.acceptUrl)).pathname);
    await page.getByLabel('Your name').fill('Mia Member');
    await page.getByLabel('Password (10+ characters)').fill(PASSWORD);
    await page.getByRole('button', { name: 'Join' }).click();
    await page.getByRole('button', { name: 'New chat with Ada' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Organization Settings' }).count(), 0);
    await page.goto('/settings/models/settings');
    await page.getByRole('heading', { name: 'Mates' }).waitFor();
    assert.equal(await page.getByText('Models Management').count(), 0);
    assert.equal(await page.getByLabel('Fallback Model').count(), 0);
    for (const [method, path, body] of [
      ['GET', '/api/admin/settings', undefined],
      ['PUT', '/api/admin/settings', { fallback: { mode: 'none' } }],
      ['GET', '/api/admin/members', undefined],
    ] as const) {
      const r = await api(member.context.request, method, path, body);
      assert.equal(r.status, 403, `${method} ${path}`);
    }
    // Phone width: the chat fits without sideways scrolling.
    await page.getByRole('button', { name: 'New chat with Ada' }).click();
    await sendAndWait(page, 0, 'Hi from my phone');
    const overflow = Number(
      // A string, not a function: this file is type-checked without the DOM library.
      await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'),
    );
    assert.ok(overflow <= 0, `page is ${overflow}px wider than a phone`);
    if (SCREENSHOTS) await page.screenshot({ path: join(DOCS, 'screenshot-phone.png') });
    // Sign out returns to the sign-in page.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    noConsoleErrors(member);
    await member.context.close();
  });
});
