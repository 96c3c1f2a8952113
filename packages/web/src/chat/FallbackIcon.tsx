import { useId, useLayoutEffect, useRef, useState } from 'react';
import type { FallbackInfo, MessageStatus } from '../api/types.js';
import { fallbackIconName, fallbackSentence } from './fallbackSentence.js';

/**
 * The amber icon beside the token counter of an answer that came from a backup model. Hovering or
 * focusing it shows a tooltip naming the backup model and the original provider that was
 * unavailable, and why. It is a button so the keyboard can reach it; Escape hides the tooltip.
 * While the button has the focus (a tap or a click gave it), moving the pointer away does not hide
 * the tooltip: a tap on a touch screen ends with a mouseleave, which would close it at once. A
 * second tap, Escape or leaving the button (blur) hides it.
 * The tooltip opens centred below the icon and is moved back inside the window when that would
 * overflow it (a narrow phone, an icon near an edge), above the icon when there is no room below.
 */
export function FallbackIcon({
  fallback,
  label,
  status = 'complete',
}: {
  fallback: FallbackInfo;
  label: (id: string) => string;
  /** The message's status: the tooltip words a failed, interrupted or stopped answer truthfully. */
  status?: MessageStatus;
}) {
  const [open, setOpen] = useState(false);
  const id = useId();
  const tip = useRef<HTMLSpanElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  // Whether the tooltip was open when a touch or pen press began (undefined for a mouse, whose
  // hover opens it just before the click): that press's click toggles it from there.
  const openAtTouch = useRef<boolean>(undefined);
  useLayoutEffect(() => {
    const el = tip.current;
    if (!open || !el) return;
    const margin = 8;
    const width = document.documentElement.clientWidth;
    el.style.setProperty('--room', `${width - 2 * margin}px`);
    el.style.setProperty('--shift', '0px');
    el.classList.remove('above');
    let r = el.getBoundingClientRect();
    const shift = r.left < margin ? margin - r.left : r.right > width - margin ? width - margin - r.right : 0;
    el.style.setProperty('--shift', `${Math.round(shift)}px`);
    r = el.getBoundingClientRect();
    const anchor = el.parentElement?.getBoundingClientRect();
    if (anchor && r.bottom > window.innerHeight && anchor.top - r.height - margin >= 0)
      el.classList.add('above');
  }, [open]);
  return (
    <span
      className="fallback"
      onMouseEnter={() => setOpen(true)}
      onMouseLeave={() => document.activeElement !== button.current && setOpen(false)}
    >
      <button
        ref={button}
        type="button"
        className="fallback-icon"
        aria-label={fallbackIconName(status)}
        aria-describedby={id}
        onPointerDown={(e) => (openAtTouch.current = e.pointerType === 'mouse' ? undefined : open)}
        onClick={() => {
          const was = openAtTouch.current;
          openAtTouch.current = undefined;
          setOpen(was === undefined || !was);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => setOpen(false)}
        onKeyDown={(e) => e.key === 'Escape' && setOpen(false)}
      >
        <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true" focusable="false">
          <path
            d="M8 1.2 15.2 14H.8z"
            fill="#f59e0b"
            stroke="#b45309"
            strokeWidth="1"
            strokeLinejoin="round"
          />
          <rect x="7.2" y="5.3" width="1.6" height="4.8" rx=".8" fill="#3b2300" />
          <circle cx="8" cy="12" r=".95" fill="#3b2300" />
        </svg>
      </button>
      <span role="tooltip" id={id} className="tooltip" hidden={!open} ref={tip}>
        {fallbackSentence(fallback, label, status)}
      </span>
    </span>
  );
}
