import { useCallback, useEffect, useRef } from 'react';
import { useWhenSeen } from './useWhenSeen.js';

/** What a list's "Show older …" button is given: its ref, and what its click does. */
export interface OlderPages {
  olderRef: (el: HTMLButtonElement | null) => void;
  showOlder: () => Promise<void>;
}

/**
 * The "Show older …" button at the end of a paged list: it loads the next page when clicked or
 * seen (scrolling on), one load at a time. `load` fetches and shows the page and returns the id of
 * its first row. When the button had the keyboard focus, that row gets it once `rendered` changes
 * (`focusRow`): the button goes with the page it loaded, and the focus would fall to <body>.
 */
export function useOlderPages(
  load: () => Promise<string | undefined>,
  focusRow: (id: string) => void,
  rendered: unknown,
): OlderPages {
  const loading = useRef(false);
  const button = useRef<HTMLButtonElement | null>(null);
  const pending = useRef<string>(undefined);
  const showOlder = async () => {
    if (loading.current) return;
    loading.current = true;
    const hadFocus = button.current !== null && button.current === document.activeElement;
    try {
      const first = await load();
      if (hadFocus) pending.current = first;
    } finally {
      loading.current = false;
    }
  };
  const listEnd = useWhenSeen(() => void showOlder());
  const olderRef = useCallback(
    (el: HTMLButtonElement | null) => {
      button.current = el;
      listEnd(el);
    },
    [listEnd],
  );
  const focus = useRef(focusRow);
  focus.current = focusRow;
  useEffect(() => {
    const id = pending.current;
    if (id === undefined) return;
    pending.current = undefined;
    focus.current(id);
  }, [rendered]);
  return { olderRef, showOlder };
}
