"use client";
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "./api";
import { useLive } from "./events";

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/**
 * Load `fetcher` when `key` changes (null: don't load). With `live`, a live event reloads it, debounced so
 * a burst of events (a pipeline run) costs one request.
 */
export function useData<T>(key: string | null, fetcher: () => Promise<T>, live = true): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error: unknown; loading: boolean }>({
    error: null,
    loading: key !== null,
  });
  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    if (key === null) return;
    let cancelled = false;
    setState((s) => ({ ...s, loading: true }));
    fetcherRef.current().then(
      (data) => !cancelled && setState({ data, error: null, loading: false }),
      (error) => !cancelled && setState({ data: undefined, error, loading: false }),
    );
    return () => {
      cancelled = true;
    };
  }, [key, tick]);

  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const onEvent = useCallback(() => {
    if (!live) return;
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(reload, 800);
  }, [live, reload]);
  useLive(onEvent);

  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** True for "this endpoint or thing does not exist" (an older server, an empty install). */
export function isNotFound(error: unknown): boolean {
  return error instanceof ApiError && error.status === 404;
}
