import type { Message } from '../api/types.js';

/** The messages a page shows and where its older ones start (null: from the first). */
export interface Shown {
  messages: Message[];
  older: number | null;
}

/**
 * The newest page read again (a catch-up, a refused send), over what the page shows: the older
 * messages it had loaded beyond that page stay, when the fresh page still joins onto them. When it
 * does not (more messages came meanwhile than a page holds), the fresh page alone is shown, and
 * scrolling up loads the rest again.
 */
export function withOlder(shown: Shown, fresh: Shown): Shown {
  const join = fresh.messages[0];
  if (fresh.older === null || join === undefined) return fresh;
  const at = shown.messages.findIndex((m) => m.id === join.id);
  if (at < 0) return fresh;
  return { messages: [...shown.messages.slice(0, at), ...fresh.messages], older: shown.older };
}

/** An older page put before what the page shows, without showing a message twice. */
export function prependOlder(shown: Shown, page: Shown): Shown {
  const ids = new Set(shown.messages.map((m) => m.id));
  return { messages: [...page.messages.filter((m) => !ids.has(m.id)), ...shown.messages], older: page.older };
}
