/**
 * A member with a long history, in Chromium against the real server: a long conversation opens on
 * its newest page and loads older messages as the member scrolls up, and the conversation list
 * loads older conversations as the member scrolls down, each message and conversation shown once;
 * an answer asked without the start of the conversation says so; Fallback activity loads older
 * events when its "Show older events" comes into view, each once, the focus on the first of them.
 */
// test-runner: browser (one browser suite at a time: two Chromiums on 2 cores can take past the 10 s wait for a first page load)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import {
  addMate,
  api,
  chromiumSkip,
  conversationOwner,
  type Harness,
  openPage,
  setUpOwnerInBrowser,
  startHarness,
  storeMessages,
  storeOlderConversations,
} from './harness.js';

/** Wheels over `x, y` until `done` holds (at most `times` turns). */
async function scrollUntil(page: Page, x: number, y: number, dy: number, done: () => Promise<boolean>) {
  for (let i = 0; i < 60 && !(await done()); i++) {
    await page.mouse.move(x, y);
    await page.mouse.wheel(0, dy);
    await page.waitForTimeout(100);
  }
}

describe('a long history in Chromium', { skip: chromiumSkip(), timeout: 120_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.close();
  });

  it('scrolling loads older messages, conversations and fallback events, each once', async () => {
    const { page, context, errors } = await openPage(h);
    await setUpOwnerInBrowser(h, page);
    const mateId = await addMate(context.request, 'Historian');
    const conv = await api(context.request, 'POST', '/api/conversations', { mateId });
    const convId = String(conv.body.id);
    // The newest answer was asked without the start of the conversation (too long for its model).
    const messages = await storeMessages(h, convId, 120, {
      answer: (n) => `Answer ${n}\n\n${'A paragraph of the answer. '.repeat(20)}`,
      leftOut: 12,
    });
    await storeOlderConversations(h, convId, 130);

    await page.goto(`/c/${convId}`);
    const shown = page.locator('li.msg');
    await page.getByText('Answer 120', { exact: true }).waitFor();
    assert.equal(await shown.count(), 50, 'the newest page only');
    // The answer says why the Mate may not recall the start, in words on the page (not a tooltip).
    const note = page.locator('li.msg-assistant').last().locator('.context-note');
    assert.equal(
      await note.textContent(),
      'Answered from the latest messages: 12 earlier ones did not fit the context window of Sim A Large (simulated).',
    );
    assert.equal(await page.locator('.context-note').count(), 1, 'only on the answer that left messages out');
    await scrollUntil(page, 800, 300, -4000, async () => (await shown.count()) === 120);
    const texts = await page.locator('li.msg-user .msg-body').allTextContents();
    assert.deepEqual(
      texts,
      messages.filter((m) => m.role === 'user').map((m) => m.content),
    );
    assert.equal(await page.getByRole('button', { name: 'Show earlier messages' }).count(), 0);

    const rows = page.locator('.conv-list > li');
    assert.equal(await rows.count(), 100, 'the first page of the list');
    await scrollUntil(page, 100, 600, 3000, async () => (await rows.count()) === 131);
    const titles = await page.locator('.conv-list .conv-link').allTextContents();
    assert.equal(titles.length, 131);
    assert.equal(new Set(titles).size, 131, titles.join(', '));
    assert.equal(await page.getByRole('button', { name: 'Show older conversations' }).count(), 0);

    // A year of fallback activity: the newest 200 events first, older ones as the admin scrolls.
    const { org_id: orgId } = await conversationOwner(h, convId);
    const events = Array.from({ length: 250 }, (_, i) => {
      const at = new Date(Date.now() - 60_000 - i * 35 * 3_600_000).toISOString();
      return {
        id: `ev-${String(i).padStart(3, '0')}`,
        org_id: orgId,
        at,
        day: at.slice(0, 10),
        surface: 'api' as const,
        mate_id: null,
        message_id: null,
        original_model_id: 'sim-a-large',
        original_provider_id: 'sim-a',
        reason: 'overloaded',
        backup_model_id: 'sim-b-large',
        backup_provider_id: 'sim-b',
        latency_ms: 40,
        outcome: 'complete' as const,
        // The oldest stands for 12 coalesced answers: still one row, "×12".
        count: i === 249 ? 12 : 1,
        first_at: at,
        latency_max_ms: 90,
      };
    });
    await h.server.ctx.db.insertInto('fallback_events').values(events).execute();
    await page.goto('/settings/activity');
    const eventRows = page.locator('table.card-table tbody tr');
    await eventRows.nth(199).waitFor();
    assert.equal(await eventRows.count(), 200, 'the newest page of events');
    // Tabbing to the button brings it into view, which loads the older page; the focus then goes
    // to the first older event, not to <body> with the button that went.
    await page.getByRole('button', { name: 'Show older events' }).focus();
    await eventRows.nth(249).waitFor();
    assert.equal(await eventRows.count(), 250);
    assert.equal(await page.evaluate('document.activeElement?.dataset.id'), 'ev-200');
    const when = await eventRows.locator('td:first-child').allTextContents();
    assert.equal(when.length, 250);
    assert.equal(new Set(when).size, 250, 'each event once');
    assert.equal(await page.getByRole('button', { name: 'Show older events' }).count(), 0);
    await page.getByText('No older events: this is the first one recorded.').waitFor();
    assert.match(when.at(-1) ?? '', /×12/);
    assert.deepEqual(errors, []);
    await context.close();
  });
});
