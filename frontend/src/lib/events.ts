"use client";
// Live updates: one shared connection to `GET /api/v1/events` (server-sent events). Read with fetch rather
// than EventSource because EventSource cannot send the Authorization header a key-protected API needs.
// Pages subscribe through `useLive`; every event (not heartbeats) makes subscribed data reload.

import { useEffect, useSyncExternalStore } from "react";
import { API, authHeaders } from "./api";

export type LiveStatus = "connecting" | "live" | "offline" | "unavailable";
export interface LiveEvent {
  type: string;
  data: unknown;
}

type Listener = (e: LiveEvent) => void;

let status: LiveStatus = "connecting";
let lastEvent: LiveEvent | null = null;
const statusListeners = new Set<() => void>();
const eventListeners = new Set<Listener>();
let started = false;
let controller: AbortController | null = null;

function setStatus(s: LiveStatus) {
  if (s === status) return;
  status = s;
  statusListeners.forEach((l) => l());
}

function dispatch(block: string) {
  let type = "message";
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) type = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
  }
  if (type === "heartbeat" || data.length === 0) return;
  let parsed: unknown = data.join("\n");
  try {
    parsed = JSON.parse(parsed as string);
  } catch {
    /* keep the raw text */
  }
  lastEvent = { type, data: parsed };
  eventListeners.forEach((l) => l(lastEvent!));
  statusListeners.forEach((l) => l());
}

async function connect(attempt: number): Promise<void> {
  controller = new AbortController();
  setStatus("connecting");
  let retryMs = Math.min(30000, 1000 * 2 ** attempt);
  try {
    const res = await fetch(`${API}/events`, {
      headers: { Accept: "text/event-stream", ...authHeaders() },
      signal: controller.signal,
      cache: "no-store",
    });
    if (!res.ok || !res.body) {
      // 503: Redis (the event bus) is down; 401: no key. Pages still work, they just don't update live.
      setStatus(res.status === 503 || res.status === 401 ? "unavailable" : "offline");
      retryMs = 60000;
    } else {
      setStatus("live");
      attempt = 0;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n/g, "\n");
        let idx: number;
        while ((idx = buffer.indexOf("\n\n")) >= 0) {
          dispatch(buffer.slice(0, idx));
          buffer = buffer.slice(idx + 2);
        }
      }
      setStatus("offline");
    }
  } catch {
    if (controller.signal.aborted) return;
    setStatus("offline");
  }
  setTimeout(() => void connect(attempt + 1), retryMs);
}

function ensureStarted() {
  if (started || typeof window === "undefined") return;
  started = true;
  void connect(0);
}

/** Reconnect now (after the API key changed). */
export function restartLive() {
  controller?.abort();
  started = false;
  ensureStarted();
}

export function useLiveStatus(): { status: LiveStatus; lastEvent: LiveEvent | null } {
  useEffect(ensureStarted, []);
  const s = useSyncExternalStore(
    (cb) => {
      statusListeners.add(cb);
      return () => statusListeners.delete(cb);
    },
    () => status,
    () => "connecting" as LiveStatus,
  );
  return { status: s, lastEvent };
}

/** Call `onEvent` for every live event while mounted. */
export function useLive(onEvent: Listener): void {
  useEffect(() => {
    ensureStarted();
    eventListeners.add(onEvent);
    return () => {
      eventListeners.delete(onEvent);
    };
  }, [onEvent]);
}
