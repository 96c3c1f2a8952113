// test-runner: browser (one browser suite at a time: two Chromiums on 2 cores can take past the 10 s wait for a first page load)
/**
 * A rolling restart, as a member's page sees it: the instances it reaches refuse its requests with
 * a draining instance's 503 (drain.test checks the server sends exactly that) a few times before
 * one answers. Loading the conversation and sending a message then simply work, in the built app
 * in Chromium: no error shown, none in the console.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Route } from 'playwright-core';
import {
  addMate,
  api,
  chromiumSkip,
  conversationRead,
  openPage,
  setUpOwnerInBrowser,
  startHarness,
} from './harness.js';

/** What a draining instance answers any new request (packages/server/src/http/drain.ts). */
const refuse = (route: Route) =>
  route.fulfill({
    status: 503,
    headers: { 'retry-after': '1', connection: 'close' },
    contentType: 'application/json',
    body: JSON.stringify({
      error: { code: 'server_shutting_down', message: 'this instance is shutting down; retry the request' },
    }),
  });

test(
  'a page whose requests reach stopping instances retries them: no error for a restart',
  { skip: chromiumSkip() },
  async () => {
    const h = await startHarness();
    try {
      const owner = await openPage(h);
      const { page } = owner;
      await setUpOwnerInBrowser(h, page);
      const mateId = await addMate(owner.context.request, 'Ada');
      const conv = await api(owner.context.request, 'POST', '/api/conversations', { mateId });
      const id = String(conv.body.id);

      // The first two loads of the conversation and the first send reach stopping instances.
      const refused = { load: 0, send: 0 };
      await page.route(conversationRead(id), (route) =>
        route.request().method() === 'GET' && refused.load < 2
          ? (refused.load++, refuse(route))
          : route.continue(),
      );
      await page.route(`**/api/conversations/${id}/messages`, (route) =>
        route.request().method() === 'POST' && refused.send < 1
          ? (refused.send++, refuse(route))
          : route.continue(),
      );
      const t0 = Date.now();
      await page.goto(`/c/${id}`);
      await page.getByLabel('Message', { exact: true }).fill('Hello through a restart');
      await page.keyboard.press('Enter');
      await page.locator('[data-status="complete"]').first().waitFor({ timeout: 20_000 });
      assert.deepEqual(refused, { load: 2, send: 1 }, 'the refusals were served');
      assert.ok(Date.now() - t0 >= 3000, 'each refusal waited its retry-after (1 s) before the next try');
      await page.getByText('Hello through a restart').first().waitFor();
      assert.equal(await page.getByRole('alert').count(), 0, 'no error shown');
      const stored = await api(owner.context.request, 'GET', `/api/conversations/${id}`);
      const messages = stored.body.messages as { role: string; status: string }[];
      assert.deepEqual(
        messages.map((m) => m.role),
        ['user', 'assistant'],
        'the message was sent once',
      );
      assert.deepEqual(
        owner.errors.filter((e) => !e.includes('503')),
        [],
        'no console errors beyond the refusals',
      );
    } finally {
      await h.close();
    }
  },
);
