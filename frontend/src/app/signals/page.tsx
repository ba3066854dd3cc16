"use client";
import { useState } from "react";
import { Async } from "@/components/Async";
import SignalsTable from "@/components/tables/Signals";
import { Card, Empty, PageTitle } from "@/components/ui";
import { api, type Page } from "@/lib/api";
import { useData } from "@/lib/hooks";
import type { PortfolioSummary, Signal } from "@/lib/types";

const STATUSES = ["pending", "active", "closed", "expired", "rejected"] as const;

export default function SignalsPage() {
  const [statuses, setStatuses] = useState<string[]>([]);
  const [ticker, setTicker] = useState("");
  const [start, setStart] = useState("");
  const [end, setEnd] = useState("");
  const [minConf, setMinConf] = useState("");
  const [cursors, setCursors] = useState<(string | null)[]>([null]);

  const params = new URLSearchParams();
  statuses.forEach((s) => params.append("status", s));
  const sym = ticker.trim().toUpperCase();
  if (/^[A-Z][A-Z0-9.\-]{0,9}$/.test(sym)) params.set("ticker", sym);
  if (start) params.set("start", start);
  if (end) params.set("end", end);
  const conf = Number(minConf);
  if (minConf && conf >= 0 && conf <= 100) params.set("min_confidence", String(conf / 100));
  params.set("limit", "50");
  const cursor = cursors.at(-1);
  if (cursor) params.set("cursor", cursor);
  const query = params.toString();

  const signals = useData(`signals?${query}`, () => api<Page<Signal>>(`/signals?${query}`));
  const summary = useData("portfolio", () => api<PortfolioSummary>("/portfolio"));
  const resetPaging = () => setCursors([null]);
  const toggle = (s: string) => {
    setStatuses((cur) => (cur.includes(s) ? cur.filter((x) => x !== s) : [...cur, s]));
    resetPaging();
  };
  const filtered = statuses.length > 0 || params.has("ticker") || start || end || params.has("min_confidence");

  return (
    <>
      <PageTitle sub="Approved entries of the live paper portfolio and the candidates the risk manager rejected">
        Signals
      </PageTitle>
      <Card title="Filters" id="filters">
        <form className="flex flex-wrap items-end gap-4" onSubmit={(e) => e.preventDefault()} aria-label="Signal filters">
          <fieldset className="flex flex-wrap gap-2">
            <legend className="mb-1 text-xs uppercase tracking-wide text-slate-500">Status</legend>
            {STATUSES.map((s) => (
              <label key={s} className="flex items-center gap-1 text-sm">
                <input type="checkbox" name="status" value={s} checked={statuses.includes(s)} onChange={() => toggle(s)} />
                {s}
              </label>
            ))}
          </fieldset>
          <label className="flex flex-col text-sm">
            <span className="text-xs uppercase tracking-wide text-slate-500">Ticker</span>
            <input
              name="ticker"
              value={ticker}
              onChange={(e) => {
                setTicker(e.target.value);
                resetPaging();
              }}
              placeholder="AAPL"
              className="w-24 rounded border border-slate-300 bg-transparent px-2 py-1 uppercase dark:border-slate-700"
            />
          </label>
          <label className="flex flex-col text-sm">
            <span className="text-xs uppercase tracking-wide text-slate-500">From (ET)</span>
            <input type="date" name="start" value={start} onChange={(e) => { setStart(e.target.value); resetPaging(); }}
              className="rounded border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700" />
          </label>
          <label className="flex flex-col text-sm">
            <span className="text-xs uppercase tracking-wide text-slate-500">To (ET)</span>
            <input type="date" name="end" value={end} onChange={(e) => { setEnd(e.target.value); resetPaging(); }}
              className="rounded border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700" />
          </label>
          <label className="flex flex-col text-sm">
            <span className="text-xs uppercase tracking-wide text-slate-500">Min confidence %</span>
            <input type="number" name="min_confidence" min={0} max={100} step={1} value={minConf}
              onChange={(e) => { setMinConf(e.target.value); resetPaging(); }}
              className="w-24 rounded border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700" />
          </label>
          {filtered && (
            <button type="button" className="text-sm underline"
              onClick={() => { setStatuses([]); setTicker(""); setStart(""); setEnd(""); setMinConf(""); resetPaging(); }}>
              Clear filters
            </button>
          )}
        </form>
      </Card>
      <div className="mt-4">
        <Card title="Signals" id="signals">
          <Async state={signals} what="signals">
            {(page) => (
              <>
                {page.items.length === 0 ? (
                  <Empty>
                    {filtered
                      ? "No signal matches these filters: widen them or clear them."
                      : "No signal yet. Signals are made after each close when a trusted model's candidate passes the risk rules; see the Today page for the day's candidates and why none was taken."}
                  </Empty>
                ) : (
                  <SignalsTable rows={page.items} asOf={summary.data?.as_of} />
                )}
                <div className="mt-3 flex gap-3 text-sm">
                  {cursors.length > 1 && (
                    <button type="button" className="underline" onClick={() => setCursors((c) => c.slice(0, -1))}>
                      Newer
                    </button>
                  )}
                  {page.next_cursor && (
                    <button type="button" className="underline" onClick={() => setCursors((c) => [...c, page.next_cursor])}>
                      Older
                    </button>
                  )}
                </div>
              </>
            )}
          </Async>
        </Card>
      </div>
    </>
  );
}
