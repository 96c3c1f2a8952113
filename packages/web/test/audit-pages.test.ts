// The audit log page catches up by reading its first page again: what is new goes on top, the
// older pages the reader opened stay, and a fresh page that does not reach them replaces the list.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuditEntry } from '../src/api/types.js';
import { withNewest, withOlder, type ShownLog } from '../src/settings/auditPages.js';

const entry = (id: string): AuditEntry => ({
  id,
  at: '2026-01-01T00:00:00.000Z',
  actor: { id: null, label: 'system' },
  action: 'mate.update',
  targetType: 'mate',
  targetId: 'm1',
  targetLabel: null,
  old: null,
  new: null,
});
const ids = (log: ShownLog) => log.entries.map((e) => e.id);
// Pages of three, newest first: ids count up with time, as the server's do.
const shown: ShownLog = { entries: ['06', '05', '04', '03', '02', '01'].map(entry), next: '01' };

test('withNewest: new entries go on top; the older pages read and their cursor stay', () => {
  const after = withNewest(shown, { entries: ['08', '07', '06'].map(entry), next: '06' });
  assert.deepEqual(ids(after), ['08', '07', '06', '05', '04', '03', '02', '01']);
  assert.equal(after.next, '01', 'the next older page is still the one below what is shown');
});

test('withNewest: nothing new gives back the same log (nothing to render)', () => {
  assert.equal(withNewest(shown, { entries: ['06', '05', '04'].map(entry), next: '04' }), shown);
});

test('withNewest: more than a page written meanwhile replaces the list (no silent hole)', () => {
  const after = withNewest(shown, { entries: ['11', '10', '09'].map(entry), next: '09' });
  assert.deepEqual(ids(after), ['11', '10', '09']);
  assert.equal(after.next, '09');
});

test('withNewest: an empty log gets its first entries; an empty page changes nothing', () => {
  const empty: ShownLog = { entries: [], next: null };
  assert.deepEqual(ids(withNewest(empty, { entries: [entry('01')], next: null })), ['01']);
  assert.equal(withNewest(empty, { entries: [], next: null }), empty);
});

test('withOlder: appends the page below; a page read before a replacement is dropped', () => {
  const first: ShownLog = { entries: ['06', '05', '04'].map(entry), next: '04' };
  const after = withOlder(first, '04', { entries: ['03', '02', '01'].map(entry), next: null });
  assert.deepEqual(ids(after), ['06', '05', '04', '03', '02', '01']);
  assert.equal(after.next, null);
  const replaced: ShownLog = { entries: ['11', '10', '09'].map(entry), next: '09' };
  assert.equal(withOlder(replaced, '04', { entries: ['03'].map(entry), next: null }), replaced);
});
