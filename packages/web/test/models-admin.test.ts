/**
 * Models Management → Models in a real browser (Debian's Chromium through playwright-core) against
 * the real server: an admin adds a model for a provider through the Add model form and sees it in
 * the list without a reload; a well-known upstream name takes its facts from the built-in catalog;
 * the Edit form stores per-model timeouts (typed in seconds, stored in milliseconds) and max output
 * tokens, and emptying them clears the overrides; refusals (a duplicate id, an invalid id) show next
 * to the form with the field focused. Mates against models: a refused name shows its message (no
 * uncaught error); a Mate whose model went unavailable says so and keeps it through an edit;
 * Remove, which takes every conversation with the Mate, asks for a confirming click that says so.
 * Disabling the Default Model (or the Specific Fallback Model) is refused with a "Change it in
 * Settings" link, followed from the keyboard, that opens the Settings tab with that dropdown marked
 * and focused.
 */
// test-runner: browser (one browser suite at a time: two Chromiums on 2 cores can take past the 10 s wait for a first page load)
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_ENGINE_OPTIONS } from '@understudy/engine';
import type { Locator } from 'playwright-core';
import type { AdminModel } from '../src/api/types.js';
import {
  api,
  chromiumSkip,
  openPage,
  setUpOwnerInBrowser,
  startHarness,
  type Harness,
  type WatchedPage,
} from './harness.js';

/** A model as GET /api/admin/models returns it: the web app's own type of it. */
type StoredModel = AdminModel;

const UPSTREAM = 'Qwen/Qwen2.5-72B-Instruct';
const SUGGESTED_ID = 'qwen-qwen2.5-72b-instruct';
const LABEL = 'Qwen 72B';
/** A folder to write the phone screenshot to, when set. */
const SHOTS = process.env.MODELS_SCREENSHOTS;

/** Whether this element has the keyboard focus. */
const isFocused = async (l: Locator) => (await l.and(l.page().locator(':focus')).count()) === 1;
/** A RegExp source matching this text literally. */
const re = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('Models admin in Chromium', { skip: chromiumSkip(), timeout: 120_000 }, () => {
  let h: Harness;
  let owner: WatchedPage;

  before(async () => {
    h = await startHarness();
    owner = await openPage(h);
    const { page } = owner;
    await setUpOwnerInBrowser(h, page);
  });
  after(async () => {
    await h?.close();
  });

  const storedModels = async (): Promise<StoredModel[]> => {
    const r = await api(owner.context.request, 'GET', '/api/admin/models');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.models as StoredModel[];
  };
  const stored = async (id: string): Promise<StoredModel> => {
    const m = (await storedModels()).find((x) => x.id === id);
    assert.ok(m, `model ${id} is stored`);
    return m;
  };
  const addForm = () => owner.page.getByRole('form', { name: 'Add a model' });
  const noConsoleErrors = () => assert.deepEqual(owner.errors, [], 'console errors');

  it('adds a model for a new provider through the form; it is listed without a reload', async () => {
    const { page } = owner;
    const provider = await api(owner.context.request, 'POST', '/api/admin/providers', {
      id: 'local-vllm',
      type: 'openai-compatible',
      label: 'Local vLLM',
      baseUrl: 'https://93.184.215.7/v1',
    });
    assert.equal(provider.status, 201, JSON.stringify(provider.body));
    await page.goto('/settings/models');
    const form = addForm();
    await form.waitFor();
    await page.evaluate('window.__sameDocument = true');
    await form.getByLabel('Provider').selectOption({ label: 'Local vLLM' });
    await form.getByLabel('Upstream model name').fill(UPSTREAM);
    // The id follows the upstream name until edited; an unknown model needs its tier.
    assert.equal(await form.getByLabel('Id', { exact: true }).inputValue(), SUGGESTED_ID);
    await form.getByText('Not in the built-in catalog').waitFor();
    assert.equal(await form.getByLabel(/^Tier/).getAttribute('required'), '');
    // The tier: the range the API takes, and a description of the scale the engine compares on.
    const tier = form.getByLabel('Tier (quality rank)', { exact: true });
    assert.equal(await tier.getAttribute('min'), '0');
    assert.equal(await tier.getAttribute('max'), '100');
    assert.equal(await tier.getAttribute('placeholder'), '1 to 5');
    const tierHint = page.locator(`[id="${String(await tier.getAttribute('aria-describedby'))}"]`);
    assert.equal(
      await tierHint.innerText(),
      "Automatic fallback prefers a backup of the same tier, then one below, then one above. Use the built-in catalog's scale: 1 tiny, 2 small, 3 mid, 4 strong, 5 frontier (0 to 100 accepted).",
    );
    if (SHOTS) await form.screenshot({ path: join(SHOTS, 'add-model-tier.png') });
    await form.getByLabel('Label (optional)').fill(LABEL);
    await form.getByLabel(/^Tier/).fill('3');
    await form.getByLabel('Context window (tokens)').fill('32768');
    await form.getByRole('button', { name: 'Add model' }).click();
    await form
      .getByRole('status')
      .filter({ hasText: `Added ${LABEL} (${SUGGESTED_ID})` })
      .waitFor();
    const row = page.getByRole('row').filter({ hasText: SUGGESTED_ID });
    await row.getByRole('cell', { name: 'local-vllm' }).waitFor();
    assert.match(await row.innerText(), new RegExp(`${LABEL}[\\s\\S]*32,768`));
    assert.equal(await page.evaluate('window.__sameDocument === true'), true, 'the page did not reload');
    // The form is ready for the next one.
    assert.equal(await form.getByLabel('Upstream model name').inputValue(), '');
    assert.deepEqual(await stored(SUGGESTED_ID), {
      id: SUGGESTED_ID,
      provider: 'local-vllm',
      upstreamModel: UPSTREAM,
      label: LABEL,
      tier: 3,
      contextWindow: 32768,
      maxOutputTokens: null,
      capabilities: [],
      tags: [],
      timeouts: null,
      enabled: true,
    });
    // Added last, so it is also last in the list's order.
    assert.equal((await storedModels()).at(-1)?.id, SUGGESTED_ID);
    noConsoleErrors();
  });

  it('a well-known upstream name takes its facts from the built-in catalog', async () => {
    const { page } = owner;
    const form = addForm();
    await form.getByLabel('Provider').selectOption({ label: 'Local vLLM' });
    await form.getByLabel('Upstream model name').fill('llama3.1');
    await form.getByText('In the built-in catalog: Llama 3.1').waitFor();
    assert.equal(await form.getByLabel(/^Tier/).getAttribute('required'), null);
    await form.getByLabel('Id', { exact: true }).fill('llama-local');
    await form.getByRole('button', { name: 'Add model' }).click();
    await page.getByRole('row').filter({ hasText: 'llama-local' }).waitFor();
    const catalog = await api(owner.context.request, 'GET', '/api/admin/catalog');
    const facts = (catalog.body.models as { upstream: string; tier: number; contextWindow: number }[]).find(
      (m) => m.upstream === 'llama3.1',
    );
    assert.ok(facts);
    const m = await stored('llama-local');
    assert.equal(m.tier, facts.tier);
    assert.equal(m.contextWindow, facts.contextWindow);
    assert.equal(m.provider, 'local-vllm');
    noConsoleErrors();
  });

  it('the Edit form stores timeouts (seconds → ms) and max output tokens, and empty clears them', async () => {
    const { page } = owner;
    const edit = page.getByRole('form', { name: `Edit ${LABEL}` });
    const open = async () => {
      await page
        .getByRole('row')
        .filter({ hasText: SUGGESTED_ID })
        .getByRole('button', { name: 'Edit' })
        .click();
      await edit.waitFor();
    };
    const save = async () => {
      await edit.getByRole('button', { name: 'Save' }).click();
      await edit.waitFor({ state: 'detached' });
    };
    const connect = edit.getByLabel('Connect timeout (s)');
    const firstToken = edit.getByLabel('First-token timeout (s)');
    const stall = edit.getByLabel('Stall timeout (s)');
    const maxOut = edit.getByLabel('Max output tokens');

    await open();
    // Empty means the engine's default, which the placeholders name.
    const s = (ms: number) => String(ms / 1000);
    assert.match(
      (await connect.getAttribute('placeholder')) ?? '',
      new RegExp(`^${s(DEFAULT_ENGINE_OPTIONS.connectMs)}\\b`),
    );
    assert.match(
      (await firstToken.getAttribute('placeholder')) ?? '',
      new RegExp(`^${s(DEFAULT_ENGINE_OPTIONS.firstTokenMs)}\\b`),
    );
    assert.match(
      (await stall.getAttribute('placeholder')) ?? '',
      new RegExp(`^${s(DEFAULT_ENGINE_OPTIONS.stallMs)}\\b`),
    );
    await edit.getByLabel('reasoning').check();
    assert.match(
      (await firstToken.getAttribute('placeholder')) ?? '',
      new RegExp(`^${s(DEFAULT_ENGINE_OPTIONS.reasoningFirstTokenMs)}\\b`),
    );
    await edit.getByLabel('reasoning').uncheck();
    await connect.fill('3');
    await firstToken.fill('45.5');
    await stall.fill('20');
    await maxOut.fill('8192');
    await save();
    let m = await stored(SUGGESTED_ID);
    assert.deepEqual(m.timeouts, { connectMs: 3000, firstTokenMs: 45500, stallMs: 20000 });
    assert.equal(m.maxOutputTokens, 8192);
    assert.equal(m.contextWindow, 32768, 'other facts kept');

    // The form shows what is stored, in seconds; emptying one field clears only that override.
    await open();
    assert.deepEqual(
      [
        await connect.inputValue(),
        await firstToken.inputValue(),
        await stall.inputValue(),
        await maxOut.inputValue(),
      ],
      ['3', '45.5', '20', '8192'],
    );
    await stall.fill('');
    await save();
    m = await stored(SUGGESTED_ID);
    assert.deepEqual(m.timeouts, { connectMs: 3000, firstTokenMs: 45500 });
    assert.equal(m.maxOutputTokens, 8192);

    // Emptying all of them clears the overrides.
    await open();
    await connect.fill('');
    await firstToken.fill('');
    await maxOut.fill('');
    await save();
    m = await stored(SUGGESTED_ID);
    assert.equal(m.timeouts, null);
    assert.equal(m.maxOutputTokens, null);
    noConsoleErrors();
  });

  it('a duplicate or invalid id shows a message next to the form, with the Id field focused', async () => {
    const before = (await storedModels()).length;
    const form = addForm();
    const id = form.getByLabel('Id', { exact: true });
    await form.getByLabel('Upstream model name').fill('another-model');
    await id.fill(SUGGESTED_ID);
    await form.getByLabel(/^Tier/).fill('2');
    owner.expectError('status of 409');
    await form.getByRole('button', { name: 'Add model' }).click();
    const alert = form.getByRole('alert');
    await alert.filter({ hasText: `a model with id "${SUGGESTED_ID}" already exists` }).waitFor();
    assert.ok(await isFocused(id), 'the Id field has the focus');
    assert.equal(await id.getAttribute('aria-invalid'), 'true');
    // The server's validation message, named by its field.
    await id.fill('Not A Slug');
    owner.expectError('status of 400');
    await form.getByRole('button', { name: 'Add model' }).click();
    await alert.filter({ hasText: /^Not added: Id: use lowercase letters/ }).waitFor();
    assert.ok(await isFocused(id), 'the Id field has the focus');
    assert.equal((await storedModels()).length, before, 'nothing was added');
    // Fixing it clears the message.
    await id.fill('another-model');
    await form.getByRole('button', { name: 'Add model' }).click();
    await form.getByRole('status').filter({ hasText: 'Added another-model' }).waitFor();
    assert.equal(await alert.count(), 0);
    noConsoleErrors();
  });

  it('reordering keeps the keyboard focus on the moved model; a list changed meanwhile is reloaded', async () => {
    const { page } = owner;
    await page.goto('/settings/models');
    const [a, b] = await storedModels();
    assert.ok(a && b);
    const upB = page.getByRole('button', { name: `Move ${b.label} up` });
    const downB = page.getByRole('button', { name: `Move ${b.label} down` });
    await upB.focus();
    await page.keyboard.press('Enter');
    await page
      .getByRole('status')
      .filter({ hasText: `${b.label} moved to position 1 of` })
      .waitFor();
    // At the top its up arrow is disabled, so the focus is on its down arrow.
    assert.ok(await isFocused(downB), 'focus stays on the moved model');
    assert.deepEqual(
      (await storedModels()).slice(0, 2).map((m) => m.id),
      [b.id, a.id],
    );
    await page.keyboard.press('Enter');
    await page
      .getByRole('status')
      .filter({ hasText: `${b.label} moved to position 2 of` })
      .waitFor();
    assert.ok(await isFocused(downB), 'and again after moving down');
    assert.deepEqual(
      (await storedModels()).slice(0, 2).map((m) => m.id),
      [a.id, b.id],
    );

    // A disabled model's controls are not dimmed like its facts: they all still work.
    const dimmed = (sel: string) =>
      page.evaluate(`getComputedStyle(document.querySelector('tr.disabled-row ${sel}')).opacity`);
    const off = await api(owner.context.request, 'PATCH', `/api/admin/models/${SUGGESTED_ID}`, {
      enabled: false,
    });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    await page.reload();
    await page.locator('tr.disabled-row').first().waitFor();
    assert.deepEqual([await dimmed('td'), await dimmed('td.actions')], ['0.55', '1']);
    await api(owner.context.request, 'PATCH', `/api/admin/models/${SUGGESTED_ID}`, { enabled: true });

    // Another admin adds a model after this page loaded: a move says so and shows the list as it is.
    const added = await api(owner.context.request, 'POST', '/api/admin/models', {
      id: 'added-meanwhile',
      provider: 'local-vllm',
      upstreamModel: 'added-meanwhile',
      tier: 2,
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    owner.expectError('status of 400');
    await upB.click();
    await page.getByRole('alert').filter({ hasText: 'the list of models had changed' }).waitFor();
    await page.getByRole('row').filter({ hasText: 'added-meanwhile' }).waitFor();
    assert.deepEqual(
      (await storedModels()).slice(0, 2).map((m) => m.id),
      [a.id, b.id],
      'nothing moved',
    );
    noConsoleErrors();
  });

  it('Mates: a refusal shows, an unavailable model is kept and flagged, Remove asks first', async () => {
    const { page } = owner;
    const { db } = h.server.ctx;
    const orgId = (await db.selectFrom('organizations').select('id').executeTakeFirstOrThrow()).id;
    const mates = async () =>
      (await api(owner.context.request, 'GET', '/api/mates')).body.mates as {
        id: string;
        name: string;
        model: string | null;
      }[];
    await page.goto('/settings/mates');
    const form = page.locator('.add-form');
    // Blank after trimming: the browser's `required` lets it through, the server refuses it.
    await form.getByLabel('Name').fill('   ');
    owner.expectError('status of 400');
    await form.getByRole('button', { name: 'Create Mate' }).click();
    await page.getByRole('alert').filter({ hasText: /name/ }).waitFor();
    await form.getByLabel('Name').fill('Rex');
    await form.getByLabel('Model').selectOption({ label: LABEL });
    await form.getByRole('button', { name: 'Create Mate' }).click();
    const card = page.getByRole('listitem').filter({ hasText: 'Rex' });
    await card.getByText(LABEL, { exact: true }).waitFor();
    assert.equal(await page.getByRole('alert').count(), 0, 'the earlier message is gone');
    const rex = (await mates()).find((m) => m.name === 'Rex');
    assert.ok(rex);
    assert.equal(rex.model, SUGGESTED_ID);

    // The API will not disable a model a Mate names; a config file still can. Its effect, here:
    const refused = await api(owner.context.request, 'PATCH', `/api/admin/models/${SUGGESTED_ID}`, {
      enabled: false,
    });
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    const setEnabled = async (on: boolean) => {
      await db
        .updateTable('models')
        .set({ enabled: on ? 1 : 0 })
        .where('org_id', '=', orgId)
        .where('slug', '=', SUGGESTED_ID)
        .execute();
      h.server.ctx.catalogs.invalidate(orgId);
    };
    await setEnabled(false);
    try {
      await page.reload();
      await card.getByText(`${SUGGESTED_ID} is unavailable`).waitFor();
      if (SHOTS) await page.screenshot({ path: join(SHOTS, 'mates-unavailable.png') });
      await card.getByRole('button', { name: 'Edit Rex' }).click();
      const model = card.getByLabel('Model');
      assert.equal(await model.inputValue(), SUGGESTED_ID, "the edit form keeps the Mate's model");
      await card.getByLabel('Name').fill('Rexa');
      await card.getByRole('button', { name: 'Save' }).click();
      await page
        .getByRole('listitem')
        .filter({ hasText: 'Rexa' })
        .getByRole('button', { name: 'Edit Rexa' })
        .waitFor();
      const saved = (await mates()).find((m) => m.id === rex.id);
      assert.deepEqual([saved?.name, saved?.model], ['Rexa', SUGGESTED_ID], 'renamed, model unchanged');
    } finally {
      await setEnabled(true);
    }

    // Removing takes the Mate's conversations too, so the first click only asks.
    const conv = await api(owner.context.request, 'POST', '/api/conversations', { mateId: rex.id });
    assert.equal(conv.status, 201, JSON.stringify(conv.body));
    await page.getByRole('button', { name: 'Remove Rexa' }).click();
    const confirm = page.getByRole('button', { name: 'Confirm removal of Rexa and all its conversations' });
    assert.equal(await confirm.textContent(), 'Remove with all its conversations');
    assert.ok(await isFocused(confirm), 'the confirm button has the focus');
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'mates-confirm.png') });
    assert.ok(
      (await mates()).some((m) => m.id === rex.id),
      'one click removed nothing',
    );
    await page.keyboard.press('Tab');
    await page.getByRole('button', { name: 'Remove Rexa' }).click();
    await confirm.click();
    await page.getByRole('button', { name: 'Remove Rexa' }).waitFor({ state: 'detached' });
    assert.ok(!(await mates()).some((m) => m.id === rex.id), 'the Mate is gone');
    const convs = await api(owner.context.request, 'GET', '/api/conversations');
    assert.ok(
      !(convs.body.conversations as { id: string }[]).some((c) => c.id === conv.body.id),
      'and its conversation',
    );
    noConsoleErrors();
  });

  it('a refused disable of the Default / Specific Fallback Model links to Settings with that dropdown marked', async () => {
    const { page } = owner;
    const models = await storedModels();
    const labelOf = (id: string) => models.find((m) => m.id === id)?.label ?? id;
    const settings = await api(owner.context.request, 'GET', '/api/admin/settings');
    const defaultId = String(settings.body.defaultModel);
    // A Specific Fallback Model: an enabled model other than the Default Model.
    const fallbackId = models.find((m) => m.enabled && m.id !== defaultId)?.id ?? '';
    assert.ok(fallbackId);
    const put = await api(owner.context.request, 'PUT', '/api/admin/settings', {
      fallback: { mode: 'specific', model: fallbackId },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const defaultModel = page.getByLabel('Default Model', { exact: true });
    const fallback = page.getByLabel('Fallback Model', { exact: true });

    const cases = [
      { id: defaultId, is: 'the Default Model', field: defaultModel, other: fallback, shot: 'default' },
      {
        id: fallbackId,
        is: 'the Specific Fallback Model',
        field: fallback,
        other: defaultModel,
        shot: 'fallback',
      },
    ];
    for (const c of cases) {
      const label = labelOf(c.id);
      await page.goto('/settings/models');
      const toggle = page.getByRole('checkbox', { name: `Enabled: ${label}` });
      await toggle.focus();
      owner.expectError('status of 409');
      await page.keyboard.press('Space');
      await page
        .getByRole('alert')
        .filter({ hasText: `"${c.id}" is ${c.is};` })
        .waitFor();
      assert.ok(await toggle.isChecked(), 'the switch is put back');
      assert.equal((await stored(c.id)).enabled, true, 'still enabled');
      // Followed from the keyboard: the focus must not be lost on the way.
      const link = page.getByRole('link', { name: 'Change it in Settings' });
      await link.focus();
      await page.evaluate('window.__sameDocument = true');
      await page.keyboard.press('Enter');
      await page.waitForURL((u) => u.pathname === '/settings/models/settings');
      await c.field.waitFor();
      assert.equal(await page.evaluate('window.__sameDocument === true'), true, 'no reload');
      assert.equal(
        await page.getByRole('link', { name: 'Settings', exact: true }).getAttribute('aria-current'),
        'page',
      );
      // The setting to change is marked, described by why, and has the focus; the other is not.
      assert.equal(await c.field.getAttribute('aria-invalid'), 'true');
      assert.match(String(await c.field.getAttribute('aria-describedby')), /\bsettings-refusal\b/);
      assert.ok(await isFocused(c.field), `${c.shot}: the marked dropdown has the focus`);
      assert.equal(await c.other.getAttribute('aria-invalid'), null);
      assert.equal(await page.getByText('Named in the refusal below.').count(), 1);
      const note = page.locator('#settings-refusal');
      assert.match(await note.innerText(), new RegExp(`${re(label)} is ${c.is}\\.`));
      if (SHOTS) await page.screenshot({ path: join(SHOTS, `refusal-link-${c.shot}.png`), fullPage: true });
      // A reload keeps the context (it is in the address).
      await page.reload();
      await c.field.waitFor();
      assert.equal(await c.field.getAttribute('aria-invalid'), 'true');
    }

    // Dealt with: choosing another Default Model and saving it clears the mark and the address.
    const nextDefault = models.find((m) => m.enabled && m.id !== defaultId && m.id !== fallbackId)?.id ?? '';
    assert.ok(nextDefault);
    await page.goto(`/settings/models/settings?refused=defaultModel&model=${encodeURIComponent(defaultId)}`);
    await defaultModel.selectOption(nextDefault);
    await page.getByRole('button', { name: 'Save Default Model' }).click();
    await page.getByRole('status').filter({ hasText: 'Default Model saved.' }).waitFor();
    assert.equal(await defaultModel.getAttribute('aria-invalid'), null);
    assert.equal(await page.locator('#settings-refusal').count(), 0);
    assert.equal(new URL(page.url()).search, '');
    noConsoleErrors();
  });

  it('on a phone the list and the Edit form fit the screen: no sideways scrolling', async () => {
    // The owner's own page, narrowed: a new browser context would not carry the session.
    const { page } = owner;
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.goto('/settings/models');
      const row = page.getByRole('row').filter({ hasText: SUGGESTED_ID });
      await row.getByRole('button', { name: 'Edit' }).click();
      const form = page.getByRole('form', { name: `Edit ${LABEL}` });
      await form.waitFor();
      // Strings, not functions: this file is type-checked without the DOM library.
      const overflow = await page.evaluate(
        'document.documentElement.scrollWidth - document.documentElement.clientWidth',
      );
      assert.equal(overflow, 0, 'the page is not wider than the phone');
      const table = page.locator('table.models-table');
      const [tw, fw] = await Promise.all([table.boundingBox(), form.boundingBox()]);
      assert.ok(tw && tw.x >= 0 && tw.x + tw.width <= 390, `table inside the screen: ${JSON.stringify(tw)}`);
      assert.ok(fw && fw.x >= 0 && fw.x + fw.width <= 390, `form inside the screen: ${JSON.stringify(fw)}`);
      // Every cell still says what it is, and the controls are there.
      const tierLabel = await page.evaluate(
        `getComputedStyle(document.querySelector('.models-table td[data-label="Tier"]'), '::before').content`,
      );
      assert.equal(tierLabel, '"Tier: "');
      await row.getByRole('checkbox', { name: `Enabled: ${LABEL}` }).waitFor();
      if (SHOTS) await page.screenshot({ path: join(SHOTS, 'models-phone.png'), fullPage: true });
      await form.getByRole('button', { name: 'Cancel' }).click();
      noConsoleErrors();
    } finally {
      await page.setViewportSize({ width: 1280, height: 820 });
    }
  });
});
