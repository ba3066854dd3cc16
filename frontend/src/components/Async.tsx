"use client";
import type { ReactNode } from "react";
import { isNotFound, type Loaded } from "@/lib/hooks";
import { Empty, ErrorBox, Loading } from "./ui";

/**
 * Loading, error and data states of one request. `missing` is shown for a 404 (an endpoint this server
 * lacks, or a thing that doesn't exist yet) instead of an error box.
 */
export function Async<T>({
  state,
  what,
  missing,
  children,
}: {
  state: Loaded<T>;
  what: string;
  missing?: ReactNode;
  children: (data: T) => ReactNode;
}) {
  if (state.data !== undefined) return <>{children(state.data)}</>;
  if (state.loading) return <Loading what={what} />;
  if (state.error) {
    if (missing && isNotFound(state.error)) return <Empty>{missing}</Empty>;
    return <ErrorBox error={state.error} onRetry={state.reload} />;
  }
  return <Loading what={what} />;
}
