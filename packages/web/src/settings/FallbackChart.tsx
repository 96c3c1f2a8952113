import { useEffect, useRef, useState, type RefObject } from 'react';
import type { FallbackActivity } from '../api/types.js';
import { providerOrder } from './activityNames.js';

const COLOURS = ['#d97706', '#2563eb', '#059669', '#db2777', '#7c3aed', '#0891b2'];

/** The drawing's width when no layout is known yet (and in a server render). */
const DEFAULT_WIDTH = 640;

/**
 * The inner width of `el`, followed as it changes: the chart is drawn at the size it is shown, so
 * that its text stays 11 px on a phone instead of shrinking with a fixed 640-unit drawing.
 */
function useWidth(el: RefObject<HTMLElement | null>): number {
  const [width, setWidth] = useState(DEFAULT_WIDTH);
  useEffect(() => {
    const node = el.current;
    if (!node || typeof ResizeObserver === 'undefined') return;
    const measure = () => {
      const style = getComputedStyle(node);
      const inner = node.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      if (inner > 0) setWidth(Math.max(240, Math.floor(inner)));
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(node);
    return () => observer.disconnect();
  }, [el]);
  return width;
}

/**
 * Fallbacks per provider per day, as stacked bars (one colour per original provider) over the last
 * days. Hand-drawn SVG: a dozen bars do not need a chart library. The numbers are also in the
 * accessible label and in each bar's <title>. They count answers: an event that stands for several
 * coalesced answers counts them all (the server sums them per day).
 */
export function FallbackChart({
  counts,
  days,
  known,
}: {
  counts: FallbackActivity['countsByDay'];
  days: number;
  /** The organization's providers in the order they were added: each keeps its colour. */
  known: FallbackActivity['providers'];
}) {
  const figure = useRef<HTMLElement>(null);
  const dayList: string[] = [];
  for (let i = days - 1; i >= 0; i--)
    dayList.push(new Date(Date.now() - i * 86_400_000).toISOString().slice(0, 10));
  const { order, nameOf } = providerOrder(known, counts);
  const colourOf = (p: string) => COLOURS[order.indexOf(p) % COLOURS.length];
  const providers = order.filter((p) => counts.some((c) => c.provider === p));
  const per = (day: string, provider: string) =>
    counts.filter((c) => c.day === day && c.provider === provider).reduce((n, c) => n + c.count, 0);
  const totals = dayList.map((d) => providers.reduce((n, p) => n + per(d, p), 0));
  const max = Math.max(1, ...totals);
  const W = useWidth(figure);
  const H = 180;
  const pad = 24;
  const bw = (W - pad * 2) / dayList.length;
  // A date label is about 32 px wide: on a narrow screen every second or third day is named,
  // counted back from today so that today always is.
  const labelEvery = Math.max(1, Math.ceil(36 / bw));
  const summary =
    providers.length === 0
      ? `No fallbacks in the last ${days} days.`
      : `Fallbacks per provider in the last ${days} days: ${providers
          .map((p) => `${nameOf(p)} ${dayList.reduce((n, d) => n + per(d, p), 0)}`)
          .join(', ')}.`;
  return (
    <figure className="chart" ref={figure}>
      <svg
        viewBox={`0 0 ${W} ${H + 30}`}
        width={W}
        height={H + 30}
        role="img"
        aria-label={summary}
        preserveAspectRatio="xMidYMid meet"
      >
        <line x1={pad} y1={H} x2={W - pad} y2={H} stroke="#94a3b8" />
        <text x={4} y={14} fontSize="11" fill="#475569">
          {max}
        </text>
        {dayList.map((d, i) => {
          let y = H;
          return (
            <g key={d}>
              {providers.map((p) => {
                const n = per(d, p);
                if (n === 0) return null;
                const h = (n / max) * (H - 20);
                y -= h;
                return (
                  <rect key={p} x={pad + i * bw + 3} y={y} width={bw - 6} height={h} fill={colourOf(p)}>
                    <title>{`${d}: ${nameOf(p)} ${n}`}</title>
                  </rect>
                );
              })}
              {(dayList.length - 1 - i) % labelEvery === 0 && (
                <text x={pad + i * bw + bw / 2} y={H + 16} fontSize="11" textAnchor="middle" fill="#475569">
                  {d.slice(5)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption className="legend">
        {providers.length === 0 && <span className="muted">No fallbacks in this period.</span>}
        {providers.map((p) => (
          <span key={p} className="legend-item">
            <span className="swatch" style={{ background: colourOf(p) }} aria-hidden="true" /> {nameOf(p)}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
