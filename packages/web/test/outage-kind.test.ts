/**
 * Provider status, keyboard: arrow keys on the outage Kind of a running simulated outage step
 * through the kinds without switching the outage at each step (each switch is also an audit
 * entry); Enter, or leaving the dropdown, switches to the kind chosen, and a choice from the open
 * list switches at once. In Chromium against the real server and simulator (skipped when Chromium
 * is absent).
 */
// test-runner: browser (one browser suite at a time: two Chromiums on 2 cores can take past the 10 s wait for a first page load)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  api,
  chromiumSkip,
  openPage,
  setUpOwnerInBrowser,
  startHarness,
  type Harness,
  type WatchedPage,
} from './harness.js';

describe('outage Kind with the keyboard, in Chromium', { skip: chromiumSkip(), timeout: 120_000 }, () => {
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

  /** The outage the server runs for sim-b (null: none). */
  const running = async () => {
    const demo = await api(owner.context.request, 'GET', '/api/admin/demo');
    return (demo.body.providers as { id: string; outage: string | null }[]).find((p) => p.id === 'sim-b')
      ?.outage;
  };
  /** The demo.outage audit entries so far. */
  const switches = async () => {
    const audit = await api(owner.context.request, 'GET', '/api/admin/audit?limit=200');
    return (audit.body.entries as { action: string }[]).filter((e) => e.action === 'demo.outage').length;
  };
  /** Waits (bounded) until the server runs `fault` (null: no outage). */
  const until = async (fault: string | null) => {
    for (let i = 0; i < 50 && (await running()) !== fault; i++) await owner.page.waitForTimeout(100);
    assert.equal(await running(), fault);
  };

  it('arrow keys choose a Kind; Enter or leaving the list switches to it, once', async () => {
    const { page } = owner;
    await page.goto('/settings/status');
    const card = page.locator('[data-provider="sim-b"]');
    const kind = card.getByLabel('Kind');
    await kind.waitFor();
    await card.getByRole('switch').click();
    await until('overloaded');
    const before = await switches();

    // unavailable, overloaded, rate_limit, no_response, cut_after: three steps down from overloaded.
    await kind.focus();
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowDown');
    assert.equal(await kind.inputValue(), 'cut_after');
    // Two refreshes of the page (every 2 s) later, nothing was switched on the way.
    await page.waitForTimeout(2500);
    assert.equal(await running(), 'overloaded', 'the arrow steps switched nothing');
    assert.equal(await switches(), before, 'no audit entry for the steps');
    // The admin is told the choice is not in force yet.
    await card
      .getByText('Not switched yet: press Enter (or leave the list) to switch to cut after.')
      .waitFor();

    await page.keyboard.press('Enter');
    await until('cut_after');
    assert.equal(await switches(), before + 1, 'one switch for one choice');

    // One step up, then Tab away: leaving the list switches too.
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Tab');
    await until('no_response');
    assert.equal(await switches(), before + 2);

    // A choice from the list (as a click makes) switches at once.
    await kind.selectOption('rate_limit');
    await until('rate_limit');
    await card.getByRole('switch').click();
    await until(null);
    assert.deepEqual(owner.errors, [], 'console errors');
  });
});
