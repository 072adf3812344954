import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from './api.js';

/** GETs `path` now and every `everyMs` (0: once); `reload` fetches again. Stops when the page unmounts. */
export function usePoll<T>(path: string, everyMs = 0): { data: T | undefined; error: ApiError | undefined; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError>();
  const alive = useRef(true);
  const load = useCallback(() => {
    api<T>('GET', path).then(
      (d) => {
        if (!alive.current) return;
        setData(d);
        setError(undefined);
      },
      (e: unknown) => {
        if (alive.current) setError(e instanceof ApiError ? e : new ApiError(0, 'MCPEG_ERR_INTERNAL', String(e)));
      },
    );
  }, [path]);
  useEffect(() => {
    alive.current = true;
    load();
    const t = everyMs > 0 ? setInterval(load, everyMs) : undefined;
    return () => {
      alive.current = false;
      if (t) clearInterval(t);
    };
  }, [load, everyMs]);
  return { data, error, reload: load };
}
