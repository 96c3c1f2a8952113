/**
 * Calls `fn` when the member comes back to this tab: it shows again (visibilitychange) or its
 * window gets the focus. A tab switch fires both: they count as one return. Returns the unsubscribe.
 */
export function onTabReturn(fn: () => void): () => void {
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
