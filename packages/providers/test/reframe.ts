/**
 * Re-frames a recorded SSE fixture without changing its meaning: another line-ending style,
 * extra comment lines and comment-only blocks, `data:` with or without its space, and JSON data
 * pretty-printed across several `data:` lines (which SSE joins back with "\n").
 */
import fc from 'fast-check';

/** One block of a fixture: its lines, and whether a blank line closed it. */
interface Block {
  lines: string[];
  terminated: boolean;
}

/** Splits a fixture into blocks, whatever line ending it was written with. */
export function blocks(text: string): Block[] {
  const normal = text.replace(/\r\n?/g, '\n');
  const parts = normal.split('\n\n');
  const last = parts.pop() ?? '';
  const out: Block[] = parts.map((p) => ({ lines: p.split('\n').filter((l) => l !== ''), terminated: true }));
  if (last !== '') out.push({ lines: last.split('\n'), terminated: false });
  return out;
}

/** How one block is re-framed. */
export interface BlockStyle {
  pretty: boolean;
  noSpace: boolean;
  commentAt: number | null;
  commentBlockBefore: boolean;
}

/** Arbitrary styles for `n` blocks plus the shared line ending. */
export function styleArb(n: number) {
  const block = fc.record({
    pretty: fc.boolean(),
    noSpace: fc.boolean(),
    commentAt: fc.option(fc.nat(3)),
    commentBlockBefore: fc.boolean(),
  });
  return fc.record({
    eol: fc.constantFrom('\n', '\r', '\r\n'),
    blocks: fc.array(block, { minLength: n, maxLength: n }),
  });
}

function dataLines(value: string, style: BlockStyle): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  const values =
    style.pretty && parsed !== undefined && typeof parsed === 'object'
      ? JSON.stringify(parsed, null, 2).split('\n')
      : [value];
  return values.map((v) => (style.noSpace && !v.startsWith(' ') ? `data:${v}` : `data: ${v}`));
}

/** Renders the fixture again in the given style. */
export function reframe(text: string, style: { eol: string; blocks: BlockStyle[] }): string {
  const { eol } = style;
  return blocks(text)
    .map((b, i) => {
      const s = style.blocks[i];
      if (!s) throw new Error('style count mismatch');
      const lines = b.lines.flatMap((l) => (l.startsWith('data: ') ? dataLines(l.slice(6), s) : [l]));
      if (!b.terminated) {
        // A stream cut mid-line ends exactly where it was cut: no line end, nothing after it.
        return `${s.commentBlockBefore ? `: keep-alive${eol}${eol}` : ''}${lines.join(eol)}`;
      }
      if (s.commentAt !== null) lines.splice(Math.min(s.commentAt, lines.length), 0, ': keep-alive 世界 🎉');
      const before = s.commentBlockBefore ? `: ping${eol}${eol}` : '';
      return `${before}${lines.join(eol)}${eol}${eol}`;
    })
    .join('');
}
