// The one way the dashboard talks to the API: same origin, `/api/v1`, an optional Bearer key kept in
// localStorage (Settings page). Every error becomes an `ApiError` carrying the API's one-line message.

export const API = "/api/v1";
const KEY_STORAGE = "tft.apiKey";

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

export function getApiKey(): string | null {
  if (typeof window === "undefined") return null;
  try {
    return window.localStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

export function setApiKey(key: string | null): void {
  if (key) window.localStorage.setItem(KEY_STORAGE, key.trim());
  else window.localStorage.removeItem(KEY_STORAGE);
}

export function authHeaders(): Record<string, string> {
  const key = getApiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

export async function api<T>(path: string, init?: RequestInit, retried = false): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${API}${path}`, {
      ...init,
      headers: { Accept: "application/json", ...authHeaders(), ...(init?.headers ?? {}) },
    });
  } catch {
    throw new ApiError(0, "network", "the API is unreachable: is `tft-trader serve` running?");
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const err = (body as { error?: { code?: string; message?: string; details?: { retry_after_seconds?: number } } } | null)
      ?.error;
    // Rate limited (a page fires a burst of reads): wait the few seconds the API asks for, once.
    const wait = err?.details?.retry_after_seconds;
    if (res.status === 429 && !retried && (init?.method ?? "GET") === "GET" && wait !== undefined && wait <= 10) {
      await new Promise((r) => setTimeout(r, wait * 1000));
      return api<T>(path, init, true);
    }
    throw new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? `HTTP ${res.status}`);
  }
  return body as T;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
  currency?: string;
}

/** Every page of a list endpoint (up to `maxItems`), following `next_cursor`. */
export async function apiAll<T>(path: string, maxItems = 5000): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  const sep = path.includes("?") ? "&" : "?";
  do {
    const url: string = `${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const page: Page<T> = await api<Page<T>>(url);
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && out.length < maxItems);
  return out;
}

/** What to tell the user for an error: the API's message plus what to do about auth. */
export function explain(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401)
      return `${error.message}. Enter a key on the Settings page, or start the server with API__PUBLIC_READ=true.`;
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}
