import { useCallback, useRef } from 'react';

/**
 * A callback ref that calls `onSeen` whenever its element comes into view (or is in view when it
 * appears): the end of a long list, where scrolling on loads the next page. The element is a
 * button that loads it too, for keyboards and for browsers without IntersectionObserver.
 */
export function useWhenSeen(onSeen: () => void): (el: HTMLElement | null) => void {
  const seen = useRef(onSeen);
  seen.current = onSeen;
  const observer = useRef<IntersectionObserver>(undefined);
  return useCallback((el: HTMLElement | null) => {
    observer.current?.disconnect();
    observer.current = undefined;
    if (!el || typeof IntersectionObserver === 'undefined') return;
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) seen.current();
    });
    io.observe(el);
    observer.current = io;
  }, []);
}
