"use client";
import dynamic from "next/dynamic";
import { useState } from "react";
import { Async } from "@/components/Async";
import Reliability, { type Bin } from "@/components/Reliability";
import { Badge, Card, Empty, ErrorBox, Loading, PageTitle, Table, Td, Th } from "@/components/ui";
import { api, type Page } from "@/lib/api";
import { etDateTime, money, num, pct, pnlClass } from "@/lib/format";
import { useData } from "@/lib/hooks";
import { findKey, modelTrust } from "@/lib/model";
import type { BacktestDetail, BacktestRun, BookMetrics, ModelDetail, ModelRow } from "@/lib/types";
import type { LineSpec } from "@/components/LineChart";

const LineChart = dynamic(() => import("@/components/LineChart"), { ssr: false, loading: () => <Loading what="the chart" /> });

type Rec = Record<string, unknown>;
const n = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

export default function ModelsPage() {
  const models = useData("models", () => api<Page<ModelRow>>("/models?limit=50"));
  const [chosen, setChosen] = useState<string | null>(null);
  const version = chosen ?? models.data?.items.find((m) => m.is_active)?.version ?? models.data?.items[0]?.version ?? null;
  return (
    <>
      <PageTitle sub="Model versions with their out-of-sample evidence, and historical replays">Models and backtests</PageTitle>
      <div className="grid grid-cols-1 gap-4">
        <Card title="Model versions" id="models">
          <Async state={models} what="models">
            {(p) =>
              p.items.length === 0 ? (
                <Empty>No model trained yet: <code>tft-trader train</code> fits one walk-forward with its edge test.</Empty>
              ) : (
                <Table caption="Model versions">
                  <thead>
                    <tr><Th>Version</Th><Th>Active</Th><Th>Data as of</Th><Th>Trained on</Th><Th right>Rows</Th><Th>Members</Th><Th right>OOS score</Th><Th /></tr>
                  </thead>
                  <tbody>
                    {p.items.map((m) => (
                      <tr key={m.id} className={m.version === version ? "bg-sky-50 dark:bg-sky-950" : ""}>
                        <Td className="font-mono">{m.version}</Td>
                        <Td>{m.is_active ? <Badge tone="green">active</Badge> : ""}</Td>
                        <Td>{m.as_of}</Td>
                        <Td>{m.train_start} – {m.train_end}</Td>
                        <Td right>{m.n_samples.toLocaleString()}</Td>
                        <Td>{m.members.map((k) => `${k} ${pct(m.weights[k], 0)}`).join(", ")}</Td>
                        <Td right>{num(m.oos_score, 4)}</Td>
                        <Td>
                          <button type="button" className="underline" aria-pressed={m.version === version} onClick={() => setChosen(m.version)}>
                            Details<span className="sr-only"> of {m.version}</span>
                          </button>
                        </Td>
                      </tr>
                    ))}
                  </tbody>
                </Table>
              )
            }
          </Async>
        </Card>
        {version && <ModelDetailView version={version} />}
        <Backtests />
      </div>
    </>
  );
}

function ModelDetailView({ version }: { version: string }) {
  const state = useData(`model-${version}`, () => api<ModelDetail>(`/models/${encodeURIComponent(version)}`));
  return (
    <Card title={`Model ${version}: the edge test`} id="model-detail">
      <Async state={state} what="the model">
        {(m) => {
          const trust = modelTrust(m);
          const q = m.metrics as Rec;
          const bins = (findKey(m.metrics, "reliability") ?? findKey(m.calibration, "reliability")) as Bin[] | undefined;
          const buckets: [string, string][] = [
            ["top_bucket", "Model's top bucket"],
            ["all_candidates", "All candidates"],
            ["rsi_rule", "RSI rule (baseline)"],
            ["macd_rule", "MACD rule (baseline)"],
          ];
          return (
            <div className="grid grid-cols-1 gap-4 lg:grid-cols-2">
              <div className="space-y-3 text-sm">
                <p>
                  {trust.trusted ? (
                    <Badge tone="green">trusted: it may make signals</Badge>
                  ) : trust.trusted === false ? (
                    <Badge tone="amber">not trusted: it ranks candidates but makes no signals</Badge>
                  ) : (
                    <Badge>trust not recorded</Badge>
                  )}
                </p>
                {trust.reasons.length > 0 && (
                  <ul className="list-disc pl-5">{trust.reasons.map((r) => <li key={r}>{r}</li>)}</ul>
                )}
                <dl className="grid grid-cols-2 gap-2">
                  <div><dt className="text-slate-500">Rank IC (t)</dt><dd>{num(n(q.rank_ic), 4)} ({num(n(q.rank_ic_t), 2)})</dd></div>
                  <div><dt className="text-slate-500">Log loss vs prior</dt><dd>{num(n(q.log_loss), 4)} vs {num(n(q.prior_log_loss), 4)}</dd></div>
                  <div><dt className="text-slate-500">Calibration error (ECE)</dt><dd>{pct(n(q.ece), 2)}</dd></div>
                  <div><dt className="text-slate-500">Base win rate</dt><dd>{pct(n(q.base_rate))}</dd></div>
                  <div><dt className="text-slate-500">Out-of-sample rows</dt><dd>{n(q.n_rows)?.toLocaleString() ?? "—"} in {n(q.n_folds) ?? "—"} folds</dd></div>
                  <div><dt className="text-slate-500">OOS period</dt><dd>{String(q.first_date ?? "—")} – {String(q.last_date ?? "—")}</dd></div>
                </dl>
                <Table caption="The model against the baselines, out of sample">
                  <thead><tr><Th>Rows bought</Th><Th right>n</Th><Th right>Hit rate</Th><Th right>Net return / trade</Th></tr></thead>
                  <tbody>
                    {buckets.map(([k, label]) => {
                      const b = (q[k] ?? {}) as Rec;
                      return (
                        <tr key={k}>
                          <Td>{label}</Td>
                          <Td right>{n(b.n) ?? "—"}</Td>
                          <Td right>{pct(n(b.hit_rate))}</Td>
                          <Td right className={pnlClass(n(b.net_return))}>{pct(n(b.net_return), 2, true)}</Td>
                        </tr>
                      );
                    })}
                  </tbody>
                </Table>
                {m.notes.length > 0 && <ul className="list-disc pl-5 text-xs text-slate-500">{m.notes.map((x) => <li key={x}>{x}</li>)}</ul>}
              </div>
              <div>
                <h3 className="mb-2 text-sm font-medium">Calibration</h3>
                {bins && bins.length > 0 ? <Reliability bins={bins} /> : <Empty>No reliability table stored for this version.</Empty>}
              </div>
            </div>
          );
        }}
      </Async>
    </Card>
  );
}

function Backtests() {
  const runs = useData("backtests", () => api<Page<BacktestRun>>("/backtests?limit=50"));
  const [chosen, setChosen] = useState<number | null>(null);
  const id = chosen ?? runs.data?.items.find((r) => r.status === "finished")?.id ?? null;
  return (
    <>
      <Card title="Backtest runs" id="backtests">
        <Async state={runs} what="backtests">
          {(p) =>
            p.items.length === 0 ? (
              <Empty>No backtest yet: start one below or with <code>tft-trader backtest</code>.</Empty>
            ) : (
              <Table caption="Backtest runs">
                <thead><tr><Th>#</Th><Th>Status</Th><Th>Period</Th><Th right>Tickers</Th><Th right>Retrain every</Th><Th>Started</Th><Th /></tr></thead>
                <tbody>
                  {p.items.map((r) => (
                    <tr key={r.id} className={r.id === id ? "bg-sky-50 dark:bg-sky-950" : ""}>
                      <Td>{r.id}</Td>
                      <Td><Badge tone={r.status === "finished" ? "green" : r.status === "failed" ? "red" : "sky"}>{r.status}</Badge>{r.error && <span className="ml-1 text-xs text-rose-600">{r.error}</span>}</Td>
                      <Td>{r.start_date} – {r.end_date}</Td>
                      <Td right>{r.tickers.length || "all"}</Td>
                      <Td right>{r.retrain_every} days</Td>
                      <Td>{etDateTime(r.created_at)}</Td>
                      <Td>
                        <button type="button" className="underline" aria-pressed={r.id === id} onClick={() => setChosen(r.id)} disabled={r.status !== "finished"}>
                          Results<span className="sr-only"> of run {r.id}</span>
                        </button>
                      </Td>
                    </tr>
                  ))}
                </tbody>
              </Table>
            )
          }
        </Async>
        <NewBacktest onStarted={runs.reload} />
      </Card>
      {id !== null && <BacktestView id={id} />}
    </>
  );
}

const BOOKS: Record<string, [string, string]> = {
  strategy: ["Strategy", "#0ea5e9"],
  rsi_mean_reversion: ["RSI rule", "#f59e0b"],
  macd_momentum: ["MACD rule", "#10b981"],
  buy_and_hold: ["Buy-and-hold", "#a855f7"],
};
const EXTRA = ["#f43f5e", "#64748b"];

function bookName(k: string): string {
  return BOOKS[k]?.[0] ?? k.replaceAll("_", " ");
}

function BacktestView({ id }: { id: number }) {
  const state = useData(`backtest-${id}`, () => api<BacktestDetail>(`/backtests/${id}`));
  return (
    <Async state={state} what={`backtest ${id}`}>
      {(run) => {
        const order = (k: string) => (k in BOOKS ? Object.keys(BOOKS).indexOf(k) : 99);
        const books = Object.keys(run.metrics).sort((a, b) => order(a) - order(b));
        const lines: LineSpec[] = Object.entries(run.equity_curves)
          .sort(([a], [b]) => order(a) - order(b))
          .map(([k, pts], i) => ({
            name: bookName(k),
            color: BOOKS[k]?.[1] ?? EXTRA[i % EXTRA.length],
            points: pts.map((p) => ({ time: p.trade_date, value: p.equity })),
          }));
        const rows: [keyof BookMetrics, string, (v: number | null) => string][] = [
          ["total_return", "Total return", (v) => pct(v, 2, true)],
          ["cagr", "CAGR", (v) => pct(v, 2, true)],
          ["sharpe", "Sharpe", (v) => num(v)],
          ["sortino", "Sortino", (v) => num(v)],
          ["calmar", "Calmar", (v) => num(v)],
          ["max_drawdown", "Max drawdown", (v) => pct(v)],
          ["n_trades", "Trades", (v) => (v === null ? "—" : String(v))],
          ["win_rate", "Win rate", (v) => pct(v)],
          ["avg_trade_return", "Avg trade return", (v) => pct(v, 2, true)],
          ["profit_factor", "Profit factor", (v) => num(v)],
          ["exposure", "Exposure", (v) => pct(v)],
          ["end_equity", "End equity", (v) => money(v, 0)],
        ];
        return (
          <Card title={`Backtest ${run.id}: ${run.start_date} – ${run.end_date}`} id="backtest-detail">
            {books.length === 0 ? (
              <Empty>This run has no results ({run.status}{run.error ? `: ${run.error}` : ""}).</Empty>
            ) : (
              <div className="grid grid-cols-1 gap-4">
                {lines.length > 0 ? (
                  <LineChart lines={lines} height={300} label="Equity curves of the strategy, the rule baselines and buy-and-hold" />
                ) : (
                  <Empty>No equity curve stored with this run.</Empty>
                )}
                <Table caption="Strategy, baselines and buy-and-hold side by side">
                  <thead><tr><Th>Metric</Th>{books.map((b) => <Th key={b} right>{bookName(b)}</Th>)}</tr></thead>
                  <tbody>
                    {rows.map(([k, label, f]) => (
                      <tr key={k}>
                        <Td>{label}</Td>
                        {books.map((b) => <Td key={b} right className={k === "total_return" ? pnlClass(run.metrics[b][k]) : ""}>{f(run.metrics[b][k])}</Td>)}
                      </tr>
                    ))}
                  </tbody>
                </Table>
                <p className="text-xs text-slate-500">Buy-and-hold has no trades, so its trade metrics are blank. Settings: retrain every {run.retrain_every} sessions, {run.tickers.length || "all"} tickers.</p>
                {run.caveats.length > 0 && (
                  <div data-caveats>
                    <h3 className="text-sm font-medium">Caveats</h3>
                    <ul className="list-disc pl-5 text-sm text-slate-600 dark:text-slate-400">{run.caveats.map((c) => <li key={c}>{c}</li>)}</ul>
                  </div>
                )}
              </div>
            )}
          </Card>
        );
      }}
    </Async>
  );
}

function NewBacktest({ onStarted }: { onStarted: () => void }) {
  const [start, setStart] = useState("");
  const [end, setEnd] = useState("");
  const [tickers, setTickers] = useState("");
  const [retrain, setRetrain] = useState("5");
  const [msg, setMsg] = useState<string | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="mt-4 flex flex-wrap items-end gap-3 border-t border-slate-200 pt-3 text-sm dark:border-slate-800"
      aria-label="Start a backtest"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setErr(null);
        setMsg(null);
        try {
          const body: Rec = { start, end, retrain_every: Number(retrain) };
          const list = tickers.split(/[\s,]+/).map((t) => t.trim().toUpperCase()).filter(Boolean);
          if (list.length) body.tickers = list;
          const r = await api<Rec>("/backtests", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
          setMsg(`Queued backtest ${String(r.run_id)} on the workers (task ${String(r.task_id)}); it appears above and finishes in the background.`);
          onStarted();
        } catch (e2) {
          setErr(e2);
        } finally {
          setBusy(false);
        }
      }}
    >
      <h3 className="w-full text-sm font-medium">Start a backtest (write key)</h3>
      <label className="flex flex-col"><span className="text-xs uppercase tracking-wide text-slate-500">From</span>
        <input type="date" required value={start} onChange={(e) => setStart(e.target.value)} className="rounded border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700" /></label>
      <label className="flex flex-col"><span className="text-xs uppercase tracking-wide text-slate-500">To</span>
        <input type="date" required value={end} onChange={(e) => setEnd(e.target.value)} className="rounded border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700" /></label>
      <label className="flex flex-col"><span className="text-xs uppercase tracking-wide text-slate-500">Tickers (blank: all)</span>
        <input value={tickers} onChange={(e) => setTickers(e.target.value)} placeholder="AAPL MSFT" className="w-48 rounded border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700" /></label>
      <label className="flex flex-col"><span className="text-xs uppercase tracking-wide text-slate-500">Retrain every (days)</span>
        <input type="number" min={1} value={retrain} onChange={(e) => setRetrain(e.target.value)} className="w-24 rounded border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700" /></label>
      <button type="submit" disabled={busy} className="rounded bg-sky-700 px-3 py-1 text-white disabled:opacity-50">Start</button>
      {msg && <p role="status" className="w-full">{msg}</p>}
      {err !== null && <div className="w-full"><ErrorBox error={err} /></div>}
    </form>
  );
}
