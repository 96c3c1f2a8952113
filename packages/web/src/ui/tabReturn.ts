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

/**
 * Calls `fn` at each tab return and every `everyMs` while the tab shows (a tick soon after a return
 * is skipped: that return just read). Returns the unsubscribe.
 */
export function onCatchUp(fn: () => void, everyMs = CATCH_UP_MS): () => void {
  let last = performance.now();
  const run = () => {
    last = performance.now();
    fn();
  };
  const stopReturns = onTabReturn(run);
  const timer = setInterval(() => {
    if (document.visibilityState === 'visible' && performance.now() - last >= everyMs / 2) run();
  }, everyMs);
  return () => {
    stopReturns();
    clearInterval(timer);
  };
}
