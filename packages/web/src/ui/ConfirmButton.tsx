import type { ReactNode } from 'react';
import { useState } from 'react';

/**
 * A destructive button that asks for a confirming second click: the first click turns it into
 * the confirm button (focused, so Enter confirms and Tab away cancels). `onConfirm` resolving
 * `false` (the action failed) puts the first button back.
 */
export function ConfirmButton({
  children,
  label,
  confirm,
  confirmLabel,
  className = 'danger small',
  tabIndex,
  onConfirm,
}: {
  /** What the first button shows. */
  children: ReactNode;
  /** The first button's accessible name, e.g. "Remove Ada". */
  label: string;
  /** What the confirm button shows, e.g. "Confirm removal". */
  confirm: ReactNode;
  /** The confirm button's accessible name, e.g. "Confirm removal of Ada". */
  confirmLabel: string;
  className?: string;
  /** The first button's tabindex (the confirm button takes the focus when it shows). */
  tabIndex?: number;
  onConfirm: () => Promise<boolean | void>;
}) {
  const [confirming, setConfirming] = useState(false);
  if (confirming)
    return (
      <button
        type="button"
        className="danger small"
        aria-label={confirmLabel}
        onClick={() => void onConfirm().then((ok) => ok === false && setConfirming(false))}
        onBlur={() => setConfirming(false)}
        autoFocus
      >
        {confirm}
      </button>
    );
  return (
    <button
      type="button"
      className={className}
      aria-label={label}
      tabIndex={tabIndex}
      onClick={() => setConfirming(true)}
    >
      {children}
    </button>
  );
}
