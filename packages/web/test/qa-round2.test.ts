/**
 * QA round 2 of the web app: long words, URLs and emails wrap (or end in an ellipsis) instead of
 * widening the page; a send refused because another tab's answer is still being written follows
 * that answer and gives the draft back; a link whose URL is dropped as unsafe is plain text; a
 * member whose role drops to Member loses Organization Settings; the simulator's outage Kind
 * follows the outage that is running; a few texts read as sentences; and the Fallback activity
 * chart is drawn at its shown size (readable on a phone, today named). In Chromium against the
 * real server and simulator (skipped when Chromium is absent).
 * `QA_SHOTS=<dir>` also writes screenshots there.
 */
// test-runner: browser (one browser suite at a time: two Chromiums on 2 cores can take past the 10 s wait for a first page load)
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import Markdown from 'react-markdown';
import type { Page } from 'playwright-core';
import { markdownProps } from '../src/chat/markdown.js';
import { settingsRefusal } from '../src/settings/refusals.js';
import { asSentence } from '../src/ui/sentence.js';
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

const SHOTS = process.env.QA_SHOTS;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

/** The assistant messages of the open conversation. */
const answers = (page: Page) => page.locator('li.msg-assistant');

/** How far the page scrolls sideways (0 when it fits its window). */
const sideways = async (page: Page) =>
  Number(await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'));

/** An answer's Markdown as the chat renders it (without the per-message footnote prefix). */
const renderMarkdown = (text: string) => renderToStaticMarkup(createElement(Markdown, markdownProps, text));

test('3: a link whose URL is dropped as unsafe is its text alone, not an empty link', () => {
  for (const url of [
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'vbscript:msgbox(1)',
    'data:text/html,x',
  ]) {
    const html = renderMarkdown(`Before [bad link](${url}) after, and [good](https://example.com/ok).`);
    assert.match(html, /Before bad link after/, url);
    assert.doesNotMatch(html, /href=""|<a[^>]*>bad link/, url);
    assert.match(
      html,
      /<a href="https:\/\/example.com\/ok" target="_blank" rel="noopener noreferrer nofollow">good<\/a>/,
    );
  }
  // Formatting inside the dropped link stays.
  assert.match(renderMarkdown('[**bold** text](javascript:x)'), /<p><strong>bold<\/strong> text<\/p>/);
});

test('6: a refused settings save names the model by its label, without the field; refusals read as sentences', () => {
  const label = (id: string) => ({ 'sim-b-large': 'Sim B Large (simulated)' })[id];
  assert.equal(
    settingsRefusal(
      'defaultModel: "sim-b-large" is the Specific Fallback Model, so it cannot also be the Default Model; choose another Fallback Model (or Automatic) first',
      label,
    ),
    'Sim B Large (simulated) is the Specific Fallback Model, so it cannot also be the Default Model; choose another Fallback Model (or Automatic) first.',
  );
  assert.equal(
    settingsRefusal('fallback.model: "gone-model" is not in the available list', label),
    '"gone-model" is not in the available list.',
  );
  assert.equal(
    asSentence('the organization must keep at least one Owner'),
    'The organization must keep at least one Owner.',
  );
  assert.equal(asSentence('Done already.'), 'Done already.');
});

describe('QA round 2 in Chromium', { skip: chromiumSkip(), timeout: 240_000 }, () => {
  let h: Harness;
  let owner: WatchedPage;
  let mateId = '';

  const noConsoleErrors = (o: WatchedPage) => assert.deepEqual(o.errors, [], 'console errors');
  const shot = async (page: Page, name: string, fullPage = false) => {
    if (!SHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, name), fullPage });
  };
  /** Starts a conversation with Ada through the API; its id. */
  const newConversation = async (title?: string) => {
    const conv = await api(owner.context.request, 'POST', '/api/conversations', {
      mateId,
      ...(title !== undefined && { title }),
    });
    assert.equal(conv.status, 201, JSON.stringify(conv.body));
    return String(conv.body.id);
  };
  /** Signs `page` in through the form. */
  const signIn = async (page: Page, email: string) => {
    await page.goto('/');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
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

  it('1: long words, URLs, titles, names and emails wrap or end in an ellipsis; no page scrolls sideways', async () => {
    const { page, context } = owner;
    const word = `Supercalifragilistic${'expialidocious'.repeat(20)}`;
    const url = `https://example.com/${'very-long-path-segment/'.repeat(25)}end`;
    const title = `Quarterly${'Planning'.repeat(15)} with a long title that goes on and on and on`;
    const id = await newConversation();
    const renamed = await api(context.request, 'PATCH', `/api/conversations/${id}`, { title });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    const longMate = await api(context.request, 'POST', '/api/mates', {
      name: `Research${'Assistant'.repeat(9)}`,
      instructions: 'Be brief.',
      model: null,
    });
    assert.equal(longMate.status, 201, JSON.stringify(longMate.body));
    const email = `${'firstname.middlename.lastname'.repeat(3)}@${'subdomain'.repeat(4)}.example.com`;
    const invited = await api(context.request, 'POST', '/api/admin/invitations', { email, role: 'member' });
    assert.equal(invited.status, 201, JSON.stringify(invited.body));

    await page.setViewportSize(DESKTOP);
    await page.goto(`/c/${id}`);
    await page.getByLabel('Message', { exact: true }).fill(`${word}\n${url}`);
    await page.keyboard.press('Enter');
    await answers(page).first().and(page.locator('[data-status="complete"]')).waitFor({ timeout: 20_000 });
    for (const [size, name] of [
      [DESKTOP, 'desktop'],
      [PHONE, 'phone'],
    ] as const) {
      await page.setViewportSize(size);
      await page.goto(`/c/${id}`);
      const bubble = page.locator('li.msg-user .msg-body').first();
      await bubble.waitFor();
      assert.equal(await sideways(page), 0, `${name}: the chat page scrolls sideways`);
      const bubbleBox = await bubble.boundingBox();
      assert.ok(bubbleBox && bubbleBox.x + bubbleBox.width <= size.width, `${name}: the bubble fits`);
      const heading = page.locator('h2.conv-title');
      const box = await heading.boundingBox();
      assert.ok(box && box.x + box.width <= size.width, `${name}: the title fits: ${JSON.stringify(box)}`);
      assert.ok(
        await page.evaluate(
          '(e => e.scrollWidth > e.clientWidth && getComputedStyle(e).textOverflow === "ellipsis")(document.querySelector("h2.conv-title"))',
        ),
        `${name}: the title ends in an ellipsis`,
      );
      assert.equal(await heading.getAttribute('title'), title, 'the whole title is its tooltip');
      await shot(page, `1-chat-${name}.png`, true);

      // The sidebar: the Mate's long name and the conversation's title stay inside it.
      await page.goto('/');
      await page.getByRole('heading', { name: 'Mates' }).waitFor();
      assert.equal(await sideways(page), 0, `${name}: the chat list scrolls sideways`);
      assert.ok(
        await page.evaluate('(e => e.scrollWidth <= e.clientWidth)(document.querySelector("aside.sidebar"))'),
        `${name}: the sidebar scrolls sideways`,
      );
      await shot(page, `1-sidebar-${name}.png`);

      for (const path of ['/settings/members', '/settings/mates', '/settings/audit']) {
        await page.goto(path);
        await page.locator('main h1').waitFor();
        if (path === '/settings/members') await page.getByText(email, { exact: false }).waitFor();
        assert.equal(await sideways(page), 0, `${name}: ${path} scrolls sideways`);
        await shot(page, `1-${path.split('/').pop() ?? ''}-${name}.png`, true);
      }
    }
    await page.setViewportSize(DESKTOP);
    noConsoleErrors(owner);
  });

  it('2: a send refused while another tab’s answer is written follows that answer, keeps the draft, and says why until it ends', async () => {
    const { page, context } = owner;
    const id = await newConversation();
    const other = await context.newPage();
    const errors: string[] = [];
    other.on('pageerror', (e) => errors.push(e.message));
    // The refused POST itself is logged by the browser: that one is expected.
    other.on('console', (m) => m.type() === 'error' && !/\b409\b/.test(m.text()) && errors.push(m.text()));
    try {
      await page.goto(`/c/${id}`);
      await other.goto(`/c/${id}`);
      await other.getByText('Say hello to', { exact: false }).waitFor();
      const first = `Sent in the first tab (${id})`;
      const draft = 'And this from the second tab, a moment later';
      await page.getByLabel('Message', { exact: true }).fill(first);
      await page.keyboard.press('Enter');
      await answers(page).first().and(page.locator('[data-status="in_progress"]')).waitFor();
      await other.getByLabel('Message', { exact: true }).fill(draft);
      await other.getByLabel('Message', { exact: true }).press('Enter');

      // The second tab shows the first tab's message and follows its answer, with Stop.
      await other.locator('li.msg-user', { hasText: first }).waitFor();
      const running = answers(other).first();
      await running.and(other.locator('[data-status="in_progress"]')).waitFor();
      await other.getByRole('button', { name: 'Stop' }).waitFor();
      assert.equal(
        await other.getByLabel('Message', { exact: true }).inputValue(),
        draft,
        'the draft is back',
      );
      const note = other.getByRole('alert').filter({ hasText: 'not sent' });
      await note.waitFor();
      const text = await note.innerText();
      assert.match(
        text,
        /^Your message was not sent: an answer is still being written in this conversation\./,
      );
      assert.doesNotMatch(text, /wait or stop it first/, 'not the server’s raw words');
      await shot(other, '2-busy-desktop.png');
      await other.setViewportSize(PHONE);
      await shot(other, '2-busy-phone.png');
      await other.setViewportSize(DESKTOP);

      // Once the answer ends, the note goes and the draft can be sent.
      await running.and(other.locator('[data-status="complete"]')).waitFor({ timeout: 20_000 });
      await note.waitFor({ state: 'detached' });
      assert.equal(
        await answers(other).first().locator('.markdown').innerText(),
        await answers(page).first().locator('.markdown').innerText(),
        'the same answer',
      );
      assert.equal(await other.getByLabel('Message', { exact: true }).inputValue(), draft);
      await other.getByRole('button', { name: 'Send' }).click();
      await answers(other).nth(1).and(other.locator('[data-status="complete"]')).waitFor({ timeout: 20_000 });
      assert.equal(await other.locator('li.msg-user').count(), 2);
      assert.deepEqual(errors, [], 'console errors');
    } finally {
      await other.close();
    }
    noConsoleErrors(owner);
  });

  it('3: in the chat, a javascript: link in an answer is plain text', async () => {
    const { page } = owner;
    const id = await newConversation();
    await page.goto(`/c/${id}`);
    await page.getByLabel('Message', { exact: true }).fill('Give me a link');
    await page.keyboard.press('Enter');
    await answers(page).first().and(page.locator('[data-status="complete"]')).waitFor({ timeout: 20_000 });
    // The simulator writes no links: the stored answer is shown as a model tricked into one would write it.
    await page.route(conversationRead(id), async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { messages: { role: string; content: string }[] };
      for (const m of body.messages)
        if (m.role === 'assistant')
          m.content =
            'Open [bad link](javascript:alert(document.cookie)) or [docs](https://example.com/docs).';
      await route.fulfill({ response: res, json: body });
    });
    await page.goto(`/c/${id}`);
    const md = answers(page).first().locator('.markdown');
    await md.getByText('Open bad link or docs.').waitFor();
    assert.equal(await md.locator('a').count(), 1, 'only the safe link is a link');
    assert.equal(await md.locator('a').getAttribute('href'), 'https://example.com/docs');
    assert.equal(await md.locator('a[href=""], a:not([href])').count(), 0);
    await page.unroute(`**/api/conversations/${id}`);
    noConsoleErrors(owner);
  });

  it('4: a member whose role drops to Member leaves Organization Settings, told why; demoting oneself asks first', async () => {
    const req = owner.context.request;
    const inv = await api(req, 'POST', '/api/admin/invitations', {
      email: 'adam.admin@example.com',
      role: 'admin',
    });
    assert.equal(inv.status, 201, JSON.stringify(inv.body));
    const adam = await openPage(h);
    const { page } = adam;
    // The role refusals this test provokes are logged by the browser: they are expected.
    const refusals = () => adam.errors.filter((e) => !/\b403\b/.test(e));
    try {
      const joined = await api(adam.context.request, 'POST', '/api/invitations/accept', {
        token: new URL(String(inv.body.acceptUrl)).pathname.split('/').pop(),
        name: 'Adam Admin',
        password: PASSWORD,
      });
      assert.equal(joined.status, 201, JSON.stringify(joined.body));
      const adamId = String((joined.body.user as { id: string }).id);
      await adam.context.clearCookies();
      await signIn(page, 'adam.admin@example.com');
      const topbar = page.locator('header.topbar');
      await topbar.getByText('(admin)').waitFor();
      await page.goto('/settings/models/settings');
      await page.getByRole('heading', { name: 'Models Management' }).waitFor();

      // Demoted by the Owner in another browser: the next refused request tells the app.
      const demoted = await api(req, 'PATCH', `/api/admin/members/${adamId}`, { role: 'member' });
      assert.equal(demoted.status, 200, JSON.stringify(demoted.body));
      await page.getByRole('link', { name: 'Members' }).click();
      const notice = page.getByRole('status').filter({ hasText: 'Your role is now Member' });
      await notice.waitFor();
      await page.waitForURL((u) => u.pathname === '/');
      await topbar.getByText('(member)').waitFor();
      assert.equal(await page.getByRole('link', { name: 'Organization Settings' }).count(), 0);
      assert.equal(await page.getByText('this needs one of the roles').count(), 0, 'no raw refusal');
      await page.getByRole('heading', { name: 'Mates' }).waitFor();
      await shot(page, '4-demoted-desktop.png');
      await page.setViewportSize(PHONE);
      await shot(page, '4-demoted-phone.png');
      await page.setViewportSize(DESKTOP);

      // Made Admin again while away: coming back to the tab reads the session.
      const promoted = await api(req, 'PATCH', `/api/admin/members/${adamId}`, { role: 'admin' });
      assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
      await page.evaluate('window.dispatchEvent(new Event("focus"))');
      await page.getByRole('status').filter({ hasText: 'Your role is now Admin' }).waitFor();
      await topbar.getByText('(admin)').waitFor();

      // Demoting oneself in Members asks for a confirming click first.
      await page.getByRole('link', { name: 'Organization Settings' }).click();
      await page.getByRole('link', { name: 'Members' }).click();
      await page.getByLabel('Role of Adam Admin').selectOption('member');
      await page.getByRole('button', { name: 'Save role of Adam Admin' }).click();
      const confirm = page.getByRole('button', { name: 'Confirm your own role change to member' });
      await confirm.waitFor();
      await shot(page, '4-confirm-self-demotion.png');
      const before = (await api(req, 'GET', '/api/admin/members')).body.members as {
        id: string;
        role: string;
      }[];
      assert.equal(
        before.find((m) => m.id === adamId)?.role,
        'admin',
        'not saved before the confirming click',
      );
      await confirm.click();
      await page.getByRole('status').filter({ hasText: 'Your role is now Member' }).waitFor();
      await page.waitForURL((u) => u.pathname === '/');
      await topbar.getByText('(member)').waitFor();
      assert.deepEqual(refusals(), [], 'console errors');
    } finally {
      await adam.context.close();
    }
    noConsoleErrors(owner);
  });

  it('5: the outage Kind follows the outage running (switched in another tab), but not while the admin chooses', async () => {
    const { page, context } = owner;
    const setOutage = async (fault: string) => {
      const r = await api(context.request, 'PUT', '/api/admin/demo/providers/sim-a/outage', { fault });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    const running = async () => {
      const demo = await api(context.request, 'GET', '/api/admin/demo');
      return (demo.body.providers as { id: string; outage: string }[]).find((p) => p.id === 'sim-a')?.outage;
    };
    await page.goto('/settings/status');
    const card = page.locator('[data-provider="sim-a"]');
    const kind = card.getByLabel('Kind');
    const toggle = card.getByRole('switch');
    await kind.waitFor();
    assert.equal(await kind.inputValue(), 'overloaded', 'the default Kind');

    // Another tab switches on "no response": this tab's Kind follows at its next refresh.
    await setOutage('no_response');
    await card.getByText('Simulated outage: no response').waitFor();
    await page.waitForFunction(
      `document.querySelector('[data-provider="sim-a"] select')?.value === 'no_response'`,
    );
    await shot(page, '5-kind-follows-desktop.png');
    await page.setViewportSize(PHONE);
    await shot(page, '5-kind-follows-phone.png', true);
    await page.setViewportSize(DESKTOP);
    // Switched off and on again here: the same outage, not the "overloaded" this tab started with.
    await toggle.click();
    await card.getByText('Simulated outage:').waitFor({ state: 'detached' });
    assert.equal(await kind.inputValue(), 'no_response');
    await toggle.click();
    await card.getByText('Simulated outage: no response').waitFor();
    assert.equal(await running(), 'no_response');

    // While the dropdown has the focus, a refresh does not change what the admin is choosing.
    await kind.focus();
    await setOutage('rate_limit');
    await card.getByText('Simulated outage: rate limit').waitFor();
    await page.waitForTimeout(2500);
    assert.equal(await kind.inputValue(), 'no_response', 'left alone while focused');
    await kind.blur();
    await page.waitForFunction(
      `document.querySelector('[data-provider="sim-a"] select')?.value === 'rate_limit'`,
    );
    await setOutage('none');
    noConsoleErrors(owner);
  });

  it('6: "1 recent failure", a refused save in the admin’s words, the last Owner’s refusal in its row', async () => {
    const { page, context } = owner;
    // One and two failures in a row, as health memory would report them.
    await page.route('**/api/admin/provider-status', async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as {
        providers: { id: string; health: { consecutiveFailures: number; state: string } }[];
      };
      for (const p of body.providers) {
        p.health.state = 'closed';
        p.health.consecutiveFailures = p.id === 'sim-a' ? 1 : 2;
      }
      await route.fulfill({ response: res, json: body });
    });
    await page.goto('/settings/status');
    await page
      .locator('[data-provider="sim-a"] .provider-head')
      .getByText('Healthy, 1 recent failure', { exact: true })
      .waitFor();
    await page
      .locator('[data-provider="sim-b"] .provider-head')
      .getByText('Healthy, 2 recent failures', { exact: true })
      .waitFor();
    await shot(page, '6-failures.png');
    await page.unroute('**/api/admin/provider-status');

    // The Specific Fallback Model chosen as the Default Model: refused in the admin's words.
    const specific = await api(context.request, 'PUT', '/api/admin/settings', {
      fallback: { mode: 'specific', model: 'sim-b-large' },
    });
    assert.equal(specific.status, 200, JSON.stringify(specific.body));
    owner.expectError('400');
    await page.goto('/settings/models/settings');
    const models = (await api(context.request, 'GET', '/api/admin/models')).body.models as {
      id: string;
      label: string;
    }[];
    const simB = models.find((m) => m.id === 'sim-b-large')?.label ?? '';
    await page.getByLabel('Default Model', { exact: true }).selectOption('sim-b-large');
    await page.getByRole('button', { name: 'Save Default Model' }).click();
    const refusal = page.locator('.refusal');
    await refusal.waitFor();
    const text = await refusal.locator('p').first().innerText();
    assert.ok(text.startsWith(`Not saved: ${simB} is the Specific Fallback Model`), text);
    assert.doesNotMatch(text, /defaultModel|sim-b-large/);
    await shot(page, '6-settings-refusal-desktop.png');
    await page.setViewportSize(PHONE);
    await shot(page, '6-settings-refusal-phone.png', true);
    await page.setViewportSize(DESKTOP);
    const auto = await api(context.request, 'PUT', '/api/admin/settings', {
      fallback: { mode: 'automatic' },
    });
    assert.equal(auto.status, 200, JSON.stringify(auto.body));

    // The only Owner making themself Admin: refused, as a sentence, in their own row.
    owner.expectError('409');
    await page.goto('/settings/members');
    await page.getByLabel('Role of Olivia Owner').selectOption('admin');
    await page.getByRole('button', { name: 'Save role of Olivia Owner' }).click();
    await page.getByRole('button', { name: 'Confirm your own role change to admin' }).click();
    const row = page.getByRole('row').filter({ hasText: 'owner@example.com' });
    await row
      .getByRole('alert')
      .filter({ hasText: 'The organization must keep at least one Owner.' })
      .waitFor();
    assert.equal(
      await page.getByText('the organization must keep', { exact: false }).count(),
      1,
      'shown once, in the row',
    );
    await shot(page, '6-last-owner-desktop.png');
    await page.setViewportSize(PHONE);
    await shot(page, '6-last-owner-phone.png');
    await page.setViewportSize(DESKTOP);
    noConsoleErrors(owner);
  });

  it('7: the Fallback activity chart is drawn at the size it is shown: 11 px text on a phone, and today is named', async () => {
    const { page } = owner;
    // Today as the chart names it (MM-DD, UTC, as the server counts days).
    const today = new Date().toISOString().slice(5, 10);
    for (const [size, name] of [
      [PHONE, 'phone'],
      [DESKTOP, 'desktop'],
    ] as const) {
      await page.setViewportSize(size);
      await page.goto('/settings/activity');
      const chart = page.locator('figure.chart svg');
      await chart.waitFor();
      // Let the drawing follow its box (a ResizeObserver callback).
      // The drawing follows its box (a ResizeObserver callback): wait for it, bounded.
      const fits = async () => {
        const box = await chart.boundingBox();
        return box !== null && Math.abs(box.width - Number(await chart.getAttribute('width'))) < 2;
      };
      for (let i = 0; i < 40 && !(await fits()); i++) await page.waitForTimeout(50);
      const heights = (await page.evaluate(
        "[...document.querySelectorAll('figure.chart svg text')].map((t) => t.getBoundingClientRect().height)",
      )) as number[];
      assert.ok(heights.length >= 3, `${name}: labels drawn`);
      const smallest = Math.min(...heights);
      assert.ok(smallest >= 10, `${name}: the smallest label is ${smallest.toFixed(1)} px tall`);
      const labels = await chart.locator('text').allTextContents();
      assert.ok(labels.includes(today), `${name}: today (${today}) is named: ${labels.join(' ')}`);
      const overflow = Number(
        await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'),
      );
      assert.ok(overflow <= 0, `${name}: the page scrolls sideways by ${overflow} px`);
      await shot(page, `7-chart-${name}.png`);
    }
    noConsoleErrors(owner);
  });
});
