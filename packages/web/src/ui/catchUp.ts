/**
 * The catch-up scheduler of one tab: every piece of work that reads the server again (the session,
 * the conversation list, the open conversation) joins it, and it runs them all on one timer and at
 * each tab return. One timer, not one per job: a background tab's timer still fires (only to find
 * the tab hidden), so each extra timer was an extra wake-up of a tab nobody looks at.
 * No DOM here (the tab is reached through `TabClock`), so tests run it under Node with a fake one.
 */

/** What the scheduler needs from the tab: its clock, its timer, whether it shows, its returns. */
export interface TabClock {
  now(): number;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(timer: unknown): void;
  visible(): boolean;
  /** Calls `fn` when the member comes back to the tab; returns the unsubscribe. */
  onReturn(fn: () => void): () => void;
  /** Reports a job's exception without stopping the other jobs of the same tick. */
  report(error: unknown): void;
}

/** A tab's scheduler: `add` registers one job and returns its unsubscribe. */
export interface CatchUpScheduler {
  add(fn: () => void): () => void;
}

/** One job: its work, and when it last ran (or joined: it had just read then). */
interface Job {
  run: () => void;
  last: number;
}

/**
 * A scheduler that runs each job at every tab return and every `everyMs` while the tab shows. A
 * job that ran (or joined) less than half a period before a tick skips it: it just read. The timer
 * and the return listener exist only while some job is registered.
 */
export function createCatchUpScheduler(tab: TabClock, everyMs: number): CatchUpScheduler {
  const jobs = new Set<Job>();
  let stop: (() => void) | undefined;

  const runJobs = (due: (job: Job, now: number) => boolean) => {
    const now = tab.now();
    // A copy: a job may remove others (a sign-out unmounts the chat); those removed do not run.
    for (const job of [...jobs]) {
      if (!jobs.has(job) || !due(job, now)) continue;
      job.last = now;
      try {
        job.run();
      } catch (e) {
        tab.report(e);
      }
    }
  };
  const start = () => {
    const stopReturns = tab.onReturn(() => runJobs(() => true));
    const timer = tab.setInterval(() => {
      if (tab.visible()) runJobs((job, now) => now - job.last >= everyMs / 2);
    }, everyMs);
    return () => {
      stopReturns();
      tab.clearInterval(timer);
    };
  };

  return {
    add(fn) {
      const job: Job = { run: fn, last: tab.now() };
      jobs.add(job);
      stop ??= start();
      return () => {
        if (!jobs.delete(job) || jobs.size > 0) return;
        stop?.();
        stop = undefined;
      };
    },
  };
}
