/**
 * The audit log as the page holds it while open: the entries read so far, newest first, and the
 * cursor of the page below them. A catch-up reads the first page again and puts what is new on
 * top, so the older pages the reader opened stay. Free of JSX so a plain Node test can check it.
 */
import type { AuditEntry, AuditPage } from '../api/types.js';

/** The entries shown, newest first, and the `before` cursor of the next older page (null: none). */
export interface ShownLog {
  entries: AuditEntry[];
  next: string | null;
}

/**
 * The log after a fresh read of its first page. Entries newer than the newest shown go on top;
 * when nothing is new the same object comes back (nothing to render). When the fresh page does
 * not reach the entries shown (more than a page was written meanwhile), what lies between was not
 * read: the fresh page replaces the list rather than show a log with a silent hole in it.
 */
export function withNewest(shown: ShownLog, fresh: AuditPage): ShownLog {
  const newest = shown.entries[0];
  if (!newest) return fresh.entries.length === 0 ? shown : { entries: fresh.entries, next: fresh.next };
  // Ids are the log's order (the server pages by them): at or below the newest shown is known.
  const known = fresh.entries.findIndex((e) => e.id <= newest.id);
  if (known === -1) return { entries: fresh.entries, next: fresh.next };
  if (known === 0) return shown;
  return { entries: [...fresh.entries.slice(0, known), ...shown.entries], next: shown.next };
}

/** The log with an older page appended, if it is the page below it (not one read before a replacement). */
export function withOlder(shown: ShownLog, cursor: string, page: AuditPage): ShownLog {
  if (shown.next !== cursor) return shown;
  const seen = new Set(shown.entries.map((e) => e.id));
  return { entries: [...shown.entries, ...page.entries.filter((e) => !seen.has(e.id))], next: page.next };
}
