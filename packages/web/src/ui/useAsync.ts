import { useCallback, useEffect, useState } from 'react';

/** Loads data on mount (and on `reload()`), keeping the last value while reloading. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[] = []) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  // Callers pass their own deps, like useEffect.
  const stable = useCallback(load, deps);
  useEffect(() => {
    let live = true;
    stable().then(
      (d) => live && (setData(d), setError(undefined)),
      (e: unknown) => live && setError(e instanceof Error ? e.message : String(e)),
    );
    return () => {
      live = false;
    };
  }, [stable, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, reload, setData };
}
