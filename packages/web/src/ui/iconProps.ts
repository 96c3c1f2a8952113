/**
 * The attributes every small inline icon's <svg> shares (no icon font: a minimal Linux box may have
 * no emoji glyphs). Decorative only. Plain TypeScript, so modules without JSX can use it too.
 */
export const iconSvgProps = {
  viewBox: '0 0 16 16',
  width: 14,
  height: 14,
  fill: 'none',
  stroke: 'currentColor',
  strokeWidth: 1.5,
  strokeLinecap: 'round' as const,
  strokeLinejoin: 'round' as const,
  'aria-hidden': true,
  focusable: false,
};
