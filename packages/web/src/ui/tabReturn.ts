import { createCatchUpScheduler } from './catchUp.js';

/**
 * Calls `fn` when the member comes back to this tab: it shows again (visibilitychange) or its
 * window gets the focus. A tab switch fires both: they count as one return. Returns the unsubscribe.
 */
function onTabReturn(fn: () => void): () => void {
  let last = -Infinity;
  const handler = () => {
    if (document.visibilityState !== 'visible') return;
    const now = performance.now();
    // The two events of one return come within a few milliseconds of each other.
    if (now - last < 500) return;
    last = now;
    fn();
  };
  document.addEventListener('visibilitychange', handler);
  window.addEventListener('focus', handler);
  return () => {
    document.removeEventListener('visibilitychange', handler);
    window.removeEventListener('focus', handler);
  };
}

/**
 * How often a shown chat page reads the server again. Two windows side by side both stay in front,
 * so no tab return tells one of them what the other did; a hidden tab reads nothing until it
 * returns.
 */
const CATCH_UP_MS = 15_000;

/** This tab's one catch-up scheduler: the session, the conversation list and the open conversation share its timer. */
const tabCatchUp = createCatchUpScheduler(
  {
    now: () => performance.now(),
    setInterval: (fn, ms) => setInterval(fn, ms),
    clearInterval: (timer) => clearInterval(timer as number),
    visible: () => document.visibilityState === 'visible',
    onReturn: onTabReturn,
    report: (error) => reportError(error),
  },
  CATCH_UP_MS,
);

/**
 * Calls `fn` at each tab return and every CATCH_UP_MS while the tab shows (a tick soon after a
 * return, or soon after `fn` joined, is skipped: it just read), on the tab's one shared timer.
 * Returns the unsubscribe.
 */
export function onCatchUp(fn: () => void): () => void {
  return tabCatchUp.add(fn);
}
