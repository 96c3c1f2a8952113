/**
 * Fallback events as the activity page holds them while open: those read so far, newest first,
 * and the cursor of the page below them. Each refresh reads the first page again and puts what is
 * new on top, so the older pages the admin opened stay. Free of JSX so a plain Node test can check it.
 */
import type { FallbackActivity, FallbackEvent } from '../api/types.js';

/** The events shown, newest first, and the `before` cursor of the next older page (null: none). */
export interface ShownEvents {
  events: FallbackEvent[];
  next: string | null;
}

/** Whether `a` comes before `b` in the list: later, or at the same time with a greater id (the server's order). */
const newer = (a: FallbackEvent, b: FallbackEvent) => a.at > b.at || (a.at === b.at && a.id > b.id);

/**
 * The events after a fresh read of the first page. Events newer than the newest shown go on top;
 * when nothing is new the same object comes back (nothing to render). When the fresh page does
 * not reach the events shown (more than a page was recorded meanwhile), what lies between was not
 * read: the fresh page replaces the list rather than show one with a silent hole in it.
 */
export function withNewest(
  shown: ShownEvents | undefined,
  fresh: Pick<FallbackActivity, 'events' | 'next'>,
): ShownEvents {
  const newest = shown?.events[0];
  if (!shown || !newest) return { events: fresh.events, next: fresh.next };
  const known = fresh.events.findIndex((e) => !newer(e, newest));
  if (known === -1) return { events: fresh.events, next: fresh.next };
  if (known === 0) return shown;
  return { events: [...fresh.events.slice(0, known), ...shown.events], next: shown.next };
}

/** The events with an older page appended, if it is the page below them (not one read before a replacement). */
export function withOlder(
  shown: ShownEvents,
  cursor: string,
  page: Pick<FallbackActivity, 'events' | 'next'>,
): ShownEvents {
  if (shown.next !== cursor) return shown;
  const seen = new Set(shown.events.map((e) => e.id));
  return { events: [...shown.events, ...page.events.filter((e) => !seen.has(e.id))], next: page.next };
}
