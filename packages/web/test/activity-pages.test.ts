/**
 * Fallback events as the open activity page holds them (pure): an older page goes below those
 * shown, each event once; a refresh puts only what is new on top and keeps the older pages
 * opened; one that does not reach the events shown replaces them (no silent hole).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FallbackEvent } from '../src/api/types.js';
import { withNewest, withOlder } from '../src/settings/activityPages.js';

/** The event `id` at minute `minute` of the day (the list is newest first). */
const ev = (id: string, minute: number, count = 1): FallbackEvent => {
  const at = new Date(Date.UTC(2026, 11, 7, 0, minute)).toISOString();
  return {
    id,
    at,
    surface: 'api',
    mate: null,
    originalModel: 'sim-a-large',
    originalProvider: 'sim-a',
    reason: 'overloaded',
    backupModel: 'sim-b-large',
    backupProvider: 'sim-b',
    latencyMs: 40,
    latencyMaxMs: 90,
    outcome: 'complete',
    count,
    firstAt: at,
  };
};
const ids = (s: { events: FallbackEvent[] }) => s.events.map((e) => e.id);

test('an older page goes below, each event once, and brings the next cursor', () => {
  const shown = { events: [ev('e5', 5), ev('e4', 4, 30)], next: 'c1' };
  const after = withOlder(shown, 'c1', { events: [ev('e4', 4, 30), ev('e3', 3), ev('e2', 2)], next: 'c2' });
  assert.deepEqual(ids(after), ['e5', 'e4', 'e3', 'e2']);
  assert.equal(after.next, 'c2');
  assert.equal(after.events[1]?.count, 30, 'a coalesced event stays one row of ×30');
  // A page read for a cursor the list no longer ends with (replaced meanwhile) changes nothing.
  assert.equal(withOlder(after, 'c1', { events: [ev('e0', 0)], next: null }), after);
});

test('a refresh puts what is new on top and keeps the older pages opened', () => {
  const shown = { events: [ev('e5', 5), ev('e4', 4), ev('e3', 3), ev('e2', 2)], next: 'c2' };
  assert.equal(withNewest(shown, { events: [ev('e5', 5), ev('e4', 4)], next: 'c1' }), shown, 'nothing new');
  const fresh = { events: [ev('e7', 7), ev('e6b', 6), ev('e6a', 6), ev('e5', 5)], next: 'c9' };
  const after = withNewest(shown, fresh);
  assert.deepEqual(ids(after), ['e7', 'e6b', 'e6a', 'e5', 'e4', 'e3', 'e2']);
  assert.equal(after.next, 'c2', 'still the cursor below the oldest shown');
});

test('a refresh that does not reach the events shown replaces them; the first read shows the page', () => {
  const shown = { events: [ev('e2', 2), ev('e1', 1)], next: null };
  const fresh = { events: [ev('e9', 9), ev('e8', 8)], next: 'c8' };
  assert.deepEqual(withNewest(shown, fresh), fresh);
  assert.deepEqual(withNewest(undefined, fresh), fresh);
});
