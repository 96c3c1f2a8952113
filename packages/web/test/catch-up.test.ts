/**
 * The tab's catch-up scheduler (pure, with a fake tab): all jobs share one timer and one return
 * listener; a tick runs each job only while the tab shows and not soon after it last ran; a tab
 * return runs every job; the timer goes once the last job leaves; one job's exception does not stop
 * the others.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCatchUpScheduler, type TabClock } from '../src/ui/catchUp.js';

const EVERY = 15_000;

/** A fake tab: a settable clock and visibility, its timers and return listeners, reported errors. */
function fakeTab() {
  const timers = new Map<number, () => void>();
  const returns = new Set<() => void>();
  const reported: unknown[] = [];
  let next = 1;
  const state = { now: 0, visible: true };
  const clock: TabClock = {
    now: () => state.now,
    setInterval: (fn) => {
      timers.set(next, fn);
      return next++;
    },
    clearInterval: (timer) => void timers.delete(timer as number),
    visible: () => state.visible,
    onReturn: (fn) => {
      returns.add(fn);
      return () => void returns.delete(fn);
    },
    report: (e) => void reported.push(e),
  };
  return {
    clock,
    state,
    timers,
    returns,
    reported,
    /** Advances the clock to `at` and fires every timer once (one period passing). */
    tick(at: number) {
      state.now = at;
      for (const fn of [...timers.values()]) fn();
    },
    comeBack(at: number) {
      state.now = at;
      for (const fn of [...returns]) fn();
    },
  };
}

test('three jobs share one timer and one return listener; each runs once per period while shown', () => {
  const tab = fakeTab();
  const s = createCatchUpScheduler(tab.clock, EVERY);
  const runs = [0, 0, 0];
  const stops = runs.map((_, i) => s.add(() => runs[i]!++));
  assert.equal(tab.timers.size, 1, 'one timer');
  assert.equal(tab.returns.size, 1, 'one return listener');
  tab.tick(EVERY);
  assert.deepEqual(runs, [1, 1, 1]);
  tab.state.visible = false;
  tab.tick(2 * EVERY);
  assert.deepEqual(runs, [1, 1, 1], 'a hidden tab reads nothing');
  tab.state.visible = true;
  tab.comeBack(3 * EVERY - 5_000);
  assert.deepEqual(runs, [2, 2, 2], 'a return runs every job');
  tab.tick(3 * EVERY);
  assert.deepEqual(runs, [2, 2, 2], 'a tick soon after the return is skipped');
  tab.tick(4 * EVERY);
  assert.deepEqual(runs, [3, 3, 3]);
  stops[0]!();
  stops[1]!();
  assert.equal(tab.timers.size, 1, 'kept while a job is left');
  tab.tick(5 * EVERY);
  assert.deepEqual(runs, [3, 3, 4]);
  stops[2]!();
  stops[2]!();
  assert.equal(tab.timers.size, 0, 'the timer goes with the last job');
  assert.equal(tab.returns.size, 0, 'and so does the return listener');
});

test('a job that joins just before a tick skips it (it just read); later jobs start the timer again', () => {
  const tab = fakeTab();
  const s = createCatchUpScheduler(tab.clock, EVERY);
  let early = 0;
  let late = 0;
  s.add(() => early++);
  tab.state.now = EVERY - 1_000;
  const stopLate = s.add(() => late++);
  tab.tick(EVERY);
  assert.deepEqual([early, late], [1, 0]);
  tab.tick(2 * EVERY);
  assert.deepEqual([early, late], [2, 1]);
  stopLate();
  assert.equal(tab.timers.size, 1);
});

test("one job's exception is reported and the others still run; a job removed by another does not run", () => {
  const tab = fakeTab();
  const s = createCatchUpScheduler(tab.clock, EVERY);
  const ran: string[] = [];
  const boom = new Error('boom');
  s.add(() => {
    ran.push('a');
    throw boom;
  });
  let stopC = () => {};
  s.add(() => {
    ran.push('b');
    stopC();
  });
  stopC = s.add(() => ran.push('c'));
  tab.comeBack(1_000);
  assert.deepEqual(ran, ['a', 'b']);
  assert.deepEqual(tab.reported, [boom]);
});
