/**
 * A minimal history router: the server answers every browser path with index.html (SPA fallback),
 * so the app reads `location.pathname` and pushes new paths itself. No library needed for a
 * handful of routes.
 */
import { useEffect, useState } from 'react';

const listeners = new Set<() => void>();

/** Goes to a path of the app (adds a history entry unless `replace`). */
export function navigate(path: string, replace = false): void {
  if (path === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  for (const l of listeners) l();
}

/** The current path, re-rendering on navigation and on Back/Forward. */
export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return path;
}
