import { useEffect, useState } from 'react';

/** Loads now and then every `ms` while mounted ("live" views); returns the latest value and a refresh. */
export function usePolling<T>(load: () => Promise<T>, ms: number) {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    const once = () =>
      load().then(
        (d) => live && (setData(d), setError(undefined)),
        (e: unknown) => live && setError(e instanceof Error ? e.message : String(e)),
      );
    void once();
    const timer = setInterval(() => void once(), ms);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [load, ms, tick]);
  return { data, error, refresh: () => setTick((t) => t + 1) };
}
