// test-runner: browser (one browser suite at a time: two Chromiums on 2 cores can take past the 10 s wait for a first page load)
/**
 * Accessibility of every page and state of the web app: axe-core's WCAG 2.1 A/AA rules (and 2.2
 * AA's target size) on a desktop window (1280 px) and a phone (390 px), in Chromium against the
 * real server and simulator. The app has one (light) colour scheme. States: setup, sign-in (and a
 * refused sign-in), an invitation, the chat (Mates, a paged conversation list, a rename form, an
 * answer that fell back with its tooltip open, a failed answer, a long conversation's "Show
 * earlier messages") and every Settings page (Provider status under an outage). Any violation
 * fails, listed by rule, state and element.
 * `A11Y_SCREENSHOTS=<dir>` also writes a screenshot of each state there.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import {
  addMate,
  api,
  chromiumSkip,
  type Harness,
  openPage,
  setUpOwnerInBrowser,
  startHarness,
  storeMessages,
  storeOlderConversations,
  type WatchedPage,
} from './harness.js';

const SHOTS = process.env.A11Y_SCREENSHOTS;
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];
const VIEWPORTS = { desktop: { width: 1280, height: 820 }, phone: { width: 390, height: 844 } };
type Viewport = keyof typeof VIEWPORTS;

/** One rule broken on one element of one state. */
interface Finding {
  state: string;
  rule: string;
  impact: string;
  help: string;
  target: string;
  summary: string;
}

/**
 * Runs axe on the page as it is. Its source goes in through the DevTools protocol (evaluate), not
 * a <script> tag, which the app's Content-Security-Policy rightly refuses.
 */
async function axe(page: Page, state: string): Promise<Finding[]> {
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.evaluate(AXE_SOURCE);
  const found = await page.evaluate(async (tags) => {
    type Result = {
      id: string;
      impact: string | null;
      help: string;
      nodes: { target: unknown[]; failureSummary?: string }[];
    };
    // The page's globals: this file is typed for Node, without the DOM's types.
    const w = globalThis as unknown as {
      document: unknown;
      axe: { run(ctx: unknown, o: object): Promise<{ violations: Result[] }> };
    };
    const r = await w.axe.run(w.document, {
      runOnly: { type: 'tag', values: tags },
      resultTypes: ['violations'],
    });
    return r.violations.flatMap((v) =>
      v.nodes.map((n) => ({
        rule: v.id,
        impact: v.impact ?? '',
        help: v.help,
        target: n.target.map(String).join(' '),
        summary: (n.failureSummary ?? '').split('\n').slice(1, 3).join(' ').trim(),
      })),
    );
  }, TAGS);
  return found.map((f) => ({ state, ...f }));
}

/** The findings as lines a reader can act on, grouped by rule. */
function report(findings: Finding[]): string {
  const byRule = new Map<string, Finding[]>();
  for (const f of findings) byRule.set(f.rule, [...(byRule.get(f.rule) ?? []), f]);
  return [...byRule.entries()]
    .map(([rule, fs]) =>
      [
        `${rule} (${fs[0]?.impact}): ${fs[0]?.help} — ${fs.length} element(s)`,
        ...fs.map((f) => `    [${f.state}] ${f.target}: ${f.summary}`),
      ].join('\n'),
    )
    .join('\n');
}

describe(
  'accessibility (axe-core, WCAG 2.1 A/AA) in Chromium',
  { skip: chromiumSkip(), timeout: 120_000 },
  () => {
    let h: Harness;
    let owner: WatchedPage;
    let mateId = '';
    const findings: Finding[] = [];
    const audited: string[] = [];

    /** Audits the page at both sizes; `show` (re)creates the state after each resize. */
    const audit = async (page: Page, state: string, show: (v: Viewport) => Promise<void>) => {
      for (const v of Object.keys(VIEWPORTS) as Viewport[]) {
        await page.setViewportSize(VIEWPORTS[v]);
        await show(v);
        const name = `${state} @${v}`;
        findings.push(...(await axe(page, name)));
        audited.push(name);
        if (SHOTS) {
          mkdirSync(SHOTS, { recursive: true });
          await page.screenshot({
            path: join(SHOTS, `${name.replace(/[^a-z0-9]+/gi, '-').replace(/^-/, '')}.png`),
            fullPage: true,
          });
        }
      }
    };
    const setOutage = async (provider: string, fault: string) => {
      const r = await api(owner.context.request, 'PUT', `/api/admin/demo/providers/${provider}/outage`, {
        fault,
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    const setFallback = async (mode: 'none' | 'automatic') => {
      const r = await api(owner.context.request, 'PUT', '/api/admin/settings', { fallback: { mode } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    /** Sends `text` in the open conversation with the keyboard and waits for the answer's `status`. */
    const ask = async (text: string, status: string) => {
      const { page } = owner;
      await page.getByLabel('Message', { exact: true }).fill(text);
      await page.keyboard.press('Enter');
      await page.locator(`li.msg-assistant[data-status="${status}"]`).last().waitFor({ timeout: 20_000 });
    };

    before(async () => {
      h = await startHarness();
      owner = await openPage(h);
    });
    after(async () => {
      await h?.close();
    });

    it('every page and state has no axe violation, on a desktop and a phone', async (t) => {
      const { page, context } = owner;
      await audit(page, 'setup', async () => {
        await page.goto(`/setup?token=${encodeURIComponent(h.server.ctx.setupToken ?? '')}`);
        await page.getByRole('button', { name: 'Create organization' }).waitFor();
      });
      await setUpOwnerInBrowser(h, page);
      mateId = await addMate(context.request, 'Ada');

      // Signed out, in a second context: sign-in, a refused sign-in, an invitation.
      const guest = await openPage(h);
      const inv = await api(context.request, 'POST', '/api/admin/invitations', {
        email: 'pat@example.com',
        role: 'member',
      });
      assert.equal(inv.status, 201, JSON.stringify(inv.body));
      await audit(guest.page, 'sign-in', async () => {
        await guest.page.goto('/');
        await guest.page.getByRole('button', { name: 'Sign in' }).waitFor();
      });
      await audit(guest.page, 'sign-in refused', async () => {
        await guest.page.getByLabel('Email').fill('owner@example.com');
        await guest.page.getByLabel('Password').fill('not the password');
        guest.expectError('401');
        await guest.page.getByRole('button', { name: 'Sign in' }).click();
        await guest.page.getByRole('alert').waitFor();
      });
      await audit(guest.page, 'invitation', async () => {
        await guest.page.goto(`/invite/${encodeURIComponent(String(inv.body.token))}`);
        await guest.page.getByRole('button', { name: 'Join' }).waitFor();
      });
      await guest.context.close();

      // A history long enough to page: 110 older conversations, one with 60 messages.
      const long = await api(context.request, 'POST', '/api/conversations', {
        mateId,
        title: 'A long history',
      });
      const longId = String(long.body.id);
      await storeOlderConversations(h, longId, 110);
      await storeMessages(h, longId, 60, {
        answer: (n) => `Answer ${n}\n\n- a point\n- another\n\n\`code\``,
        leftOut: 4,
        firstHour: 200,
      });

      await audit(page, 'chat home (Mates, conversations, Show older)', async () => {
        await page.goto('/');
        await page.getByRole('button', { name: 'Show older conversations' }).waitFor();
      });
      await audit(page, 'rename form', async () => {
        await page.goto('/');
        await page.getByRole('button', { name: 'Rename A long history' }).click();
        await page.getByLabel('New title').waitFor();
      });
      await audit(page, 'long conversation (Show earlier messages)', async () => {
        await page.goto(`/c/${longId}`);
        await page.getByText('Answer 60', { exact: true }).waitFor();
        await page.getByRole('button', { name: 'Show earlier messages' }).waitFor({ state: 'attached' });
      });

      // A real fallback: the primary overloaded, the backup answers; then a real failure.
      await page.setViewportSize(VIEWPORTS.desktop);
      const conv = await api(context.request, 'POST', '/api/conversations', { mateId });
      const convId = String(conv.body.id);
      await page.goto(`/c/${convId}`);
      await setOutage('sim-a', 'overloaded');
      await ask('Hello there', 'complete');
      const icon = page.getByRole('button', { name: 'Answered by backup model' });
      await audit(page, 'fallback answer, tooltip open', async () => {
        await page.goto(`/c/${convId}`);
        await icon.focus();
        await page.getByRole('tooltip').waitFor();
      });
      await setFallback('none');
      await setOutage('sim-a', 'unavailable');
      await page.goto(`/c/${convId}`);
      await ask('Anybody there?', 'failed');
      await setFallback('automatic');
      await audit(page, 'failed answer', async () => {
        await page.goto(`/c/${convId}`);
        await page.getByRole('button', { name: 'Retry' }).waitFor();
      });

      // Settings, every page; Provider status while sim-a's outage is on.
      const settings: [string, string][] = [
        ['/settings/models', 'Models Management'],
        ['/settings/models/providers', 'Models Management'],
        ['/settings/models/settings', 'Models Management'],
        ['/settings/mates', 'Mates'],
        ['/settings/members', 'Members'],
        ['/settings/api-keys', 'API keys'],
        ['/settings/audit', 'Audit log'],
        ['/settings/activity', 'Fallback activity'],
        ['/settings/status', 'Provider status'],
      ];
      for (const [path, heading] of settings)
        await audit(page, path, async () => {
          await page.goto(path);
          await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
          await page.waitForLoadState('networkidle');
        });
      await audit(page, 'API key just created', async () => {
        await page.goto('/settings/api-keys');
        await page.getByLabel('Name of the new key').fill('CI');
        await page.getByRole('button', { name: 'Create key' }).click();
        await page.getByRole('status').filter({ hasText: 'shown only once' }).waitFor();
      });
      await setOutage('sim-a', 'none');

      t.diagnostic(`${audited.length} states audited; ${findings.length} violation(s)`);
      for (const [rule, n] of Object.entries(
        findings.reduce<Record<string, number>>(
          (acc, f) => ({ ...acc, [f.rule]: (acc[f.rule] ?? 0) + 1 }),
          {},
        ),
      ))
        t.diagnostic(`${rule}: ${n}`);
      assert.equal(findings.length, 0, `axe violations:\n${report(findings)}`);
      assert.deepEqual(owner.errors, [], 'console errors');
    });
  },
);
