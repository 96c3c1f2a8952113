/**
 * Conversation titles. A new conversation is called after its Mate until its first message, which
 * then names it (as most chat apps do): a sidebar of identical "Chat with …" rows, each announced
 * the same way to a screen reader, tells the member nothing. A title the member chose is kept.
 */

/** The longest title made from a message, in characters (the sidebar shows about this much). */
const MAX_TITLE = 60;

/** The title a conversation has before its first message. */
export function defaultTitle(mateName: string): string {
  return `Chat with ${mateName}`;
}

/** A title from the member's first message: its first line, whitespace collapsed, cut at a word. */
export function titleFromMessage(content: string): string {
  const line = (content.split(/\r?\n/).find((l) => l.trim() !== '') ?? content).replace(/\s+/g, ' ').trim();
  if (line.length <= MAX_TITLE) return line;
  const cut = line.slice(0, MAX_TITLE - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > MAX_TITLE / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}
