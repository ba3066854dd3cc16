"use client";
import dynamic from "next/dynamic";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useMemo, useState } from "react";
import { Async } from "@/components/Async";
import SignalsTable from "@/components/tables/Signals";
import type { TradeMarker } from "@/components/PriceChart";
import { Badge, Card, Empty, Loading, PageTitle, Stat, SyntheticLabel, Table, Td, Th } from "@/components/ui";
import { api, apiAll, type Page } from "@/lib/api";
import { money, num } from "@/lib/format";
import { isNotFound, useData } from "@/lib/hooks";
import type { PriceBar, QualityFlag, SentimentDay, Signal, TickerDetail, TickerRow, Trade } from "@/lib/types";

const PriceChart = dynamic(() => import("@/components/PriceChart"), { ssr: false, loading: () => <Loading what="the chart" /> });
const LineChart = dynamic(() => import("@/components/LineChart"), { ssr: false, loading: () => <Loading what="the chart" /> });

export default function TickerPage() {
  return (
    <Suspense fallback={<Loading what="the ticker" />}>
      <TickerInner />
    </Suspense>
  );
}

function TickerInner() {
  const symbol = (useSearchParams().get("symbol") ?? "").trim().toUpperCase();
  return (
    <>
      <Search current={symbol} />
      {symbol ? <TickerView key={symbol} symbol={symbol} /> : <Watchlist />}
    </>
  );
}

function Search({ current }: { current: string }) {
  const router = useRouter();
  const [q, setQ] = useState(current);
  const matches = useData(q.trim().length >= 1 && q.trim().toUpperCase() !== current ? `tickers-q-${q}` : null, () =>
    api<Page<TickerRow>>(`/tickers?q=${encodeURIComponent(q.trim())}&limit=8`), false);
  return (
    <form
      role="search"
      className="mb-4 flex flex-wrap items-center gap-2"
      onSubmit={(e) => {
        e.preventDefault();
        const s = q.trim().toUpperCase();
        if (s) router.push(`/ticker/?symbol=${encodeURIComponent(s)}`);
      }}
    >
      <label htmlFor="ticker-q" className="text-sm">Ticker</label>
      <input
        id="ticker-q"
        value={q}
        onChange={(e) => setQ(e.target.value)}
        placeholder="symbol or company"
        className="w-48 rounded border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700"
        list="ticker-options"
        autoComplete="off"
      />
      <datalist id="ticker-options">
        {matches.data?.items.map((t) => <option key={t.symbol} value={t.symbol}>{t.name}</option>)}
      </datalist>
      <button type="submit" className="rounded bg-sky-700 px-3 py-1 text-sm text-white">Show</button>
    </form>
  );
}

function Watchlist() {
  const list = useData("watchlist", () => api<Page<TickerRow>>("/tickers?watchlist=true&limit=100"));
  return (
    <>
      <PageTitle sub="Pick a ticker to see its chart, signals, sentiment and data-quality flags">Ticker</PageTitle>
      <Card title="Watchlist" id="watchlist">
        <Async state={list} what="the watchlist">
          {(p) =>
            p.items.length === 0 ? (
              <Empty>The watchlist is empty: search for a ticker above (or add one with <code>tft-trader tickers watch AAPL</code>).</Empty>
            ) : (
              <ul className="flex flex-wrap gap-2">
                {p.items.map((t) => (
                  <li key={t.symbol}>
                    <Link href={`/ticker/?symbol=${t.symbol}`} className="rounded border border-slate-300 px-2 py-1 text-sm hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800">
                      {t.symbol} <span className="text-slate-500">{t.name}</span>
                    </Link>
                  </li>
                ))}
              </ul>
            )
          }
        </Async>
      </Card>
    </>
  );
}

function fiveYearsBefore(iso: string): string {
  const d = new Date(iso + "T00:00:00Z");
  d.setUTCFullYear(d.getUTCFullYear() - 5);
  return d.toISOString().slice(0, 10);
}

function TickerView({ symbol }: { symbol: string }) {
  const enc = encodeURIComponent(symbol);
  const detail = useData(`ticker-${symbol}`, () => api<TickerDetail>(`/tickers/${enc}`));
  const lastDate = detail.data?.latest_bar?.trade_date;
  const bars = useData(lastDate ? `bars-${symbol}-${lastDate}` : null, () =>
    apiAll<PriceBar>(`/prices/${enc}?start=${fiveYearsBefore(lastDate!)}&end=${lastDate}`, 3000), false);
  const signals = useData(`ticker-signals-${symbol}`, () => api<Page<Signal>>(`/signals?ticker=${enc}&limit=200`));
  const trades = useData(`ticker-trades`, () => apiAll<Trade>("/portfolio/trades", 2000).catch((e) => {
    if (isNotFound(e)) return [] as Trade[];
    throw e;
  }));
  const sentiment = useData(lastDate ? `sent-${symbol}-${lastDate}` : null, () =>
    apiAll<SentimentDay>(`/sentiment/${enc}/daily?start=${fiveYearsBefore(lastDate!)}&end=${lastDate}`, 3000), false);

  const markers = useMemo<TradeMarker[]>(() => {
    const out: TradeMarker[] = [];
    const mine = (trades.data ?? []).filter((t) => t.ticker === symbol);
    for (const t of mine) {
      out.push({ time: t.entry_date, kind: "entry", text: `Buy ${t.shares}` });
      out.push({ time: t.exit_date, kind: "exit", text: t.exit_reason });
    }
    const traded = new Set(mine.map((t) => t.signal_date));
    for (const s of signals.data?.items ?? []) {
      if (s.status !== "rejected" && !traded.has(s.trade_date)) out.push({ time: s.trade_date, kind: "signal", text: `signal ${s.status}` });
    }
    return out;
  }, [trades.data, signals.data, symbol]);

  const sentimentLines = useMemo(() => {
    const rows = sentiment.data ?? [];
    if (!rows.length) return null;
    return {
      mentions: [{ name: "Mentions per day", color: "#8b5cf6", points: rows.map((r) => ({ time: r.trade_date, value: r.mentions })) }],
      score: [
        { name: "Sentiment (5-day mean)", color: "#0ea5e9", points: rows.map((r) => ({ time: r.trade_date, value: r.score_ma5 })) },
      ],
      synthetic: rows.some((r) => r.synthetic),
    };
  }, [sentiment.data]);

  return (
    <Async state={detail} what={symbol} missing={<>No ticker {symbol} is known: check the symbol, or seed the universe with <code>tft-trader tickers seed</code>.</>}>
      {(t) => (
        <>
          <PageTitle sub={[t.name, t.sector, t.industry, t.exchange].filter(Boolean).join(" · ")}>
            {t.symbol} {t.watchlist && <Badge tone="sky">watchlist</Badge>}
          </PageTitle>
          <div className="grid grid-cols-1 gap-4">
            <Card title="Price" id="price">
              {t.latest_bar ? (
                <dl className="mb-3 grid grid-cols-2 gap-4 sm:grid-cols-5">
                  <Stat label={`Close ${t.latest_bar.trade_date}`} value={money(t.latest_bar.close)} />
                  <Stat label="RSI 14" value={num(t.latest_bar.rsi_14, 1)} />
                  <Stat label="MACD" value={num(t.latest_bar.macd, 3)} />
                  <Stat label="SMA 50 / 200" value={`${num(t.latest_bar.sma_50, 1)} / ${num(t.latest_bar.sma_200, 1)}`} />
                  <Stat label="Bars stored" value={t.bars_stored.toLocaleString()} />
                </dl>
              ) : null}
              {!t.latest_bar ? (
                <Empty>No prices stored for {t.symbol}: fetch them with <code>tft-trader prices fetch {t.symbol}</code>.</Empty>
              ) : (
                <Async state={bars} what="prices">
                  {(b) => (
                    <>
                      <PriceChart bars={b} markers={markers} />
                      <p className="mt-2 text-xs text-slate-500">
                        {b.length.toLocaleString()} daily bars (up to 5 years), the last year in view: drag or scroll for more.
                        Panes: candles with SMA 50 (amber), SMA 200 (violet), Bollinger Bands (dashed) and volume; RSI 14; MACD.
                        Arrows mark paper entries (up) and exits (down); circles open signals.
                      </p>
                    </>
                  )}
                </Async>
              )}
            </Card>
            <Card title="Reddit mentions and sentiment" id="sentiment" actions={sentimentLines?.synthetic ? <SyntheticLabel /> : undefined}>
              <Async state={sentiment} what="sentiment">
                {() =>
                  sentimentLines ? (
                    <div className="grid grid-cols-1 gap-4 lg:grid-cols-2">
                      <LineChart lines={sentimentLines.mentions} height={180} label={`Daily Reddit mentions of ${symbol}`} />
                      <LineChart lines={sentimentLines.score} height={180} label={`Reddit sentiment score of ${symbol}`} />
                    </div>
                  ) : (
                    <Empty>No Reddit mentions of {symbol} stored in these five years.</Empty>
                  )
                }
              </Async>
            </Card>
            <Card title={`Signals on ${symbol}`} id="ticker-signals">
              <Async state={signals} what="signals">
                {(p) => (p.items.length ? <SignalsTable rows={p.items} /> : <Empty>No signal on {symbol} yet.</Empty>)}
              </Async>
            </Card>
            <Card title="Data-quality flags" id="flags">
              <Flags symbol={symbol} />
            </Card>
          </div>
        </>
      )}
    </Async>
  );
}

function Flags({ symbol }: { symbol: string }) {
  const enc = encodeURIComponent(symbol);
  const flags = useData(`flags-${symbol}`, () => api<Page<QualityFlag>>(`/prices/${enc}/flags?limit=200`), false);
  return (
    <Async state={flags} what="data-quality flags" missing={<>This server has no data-quality endpoint yet: <code>tft-trader prices check {symbol}</code> lists the flags.</>}>
      {(p) =>
        p.items.length === 0 ? (
          <Empty>No data-quality flag on {symbol}: no gaps, spikes or bad bars were found.</Empty>
        ) : (
          <Table caption={`Data-quality flags of ${symbol}`}>
            <thead>
              <tr><Th>Date</Th><Th>Kind</Th><Th>Detail</Th><Th>Excluded</Th></tr>
            </thead>
            <tbody>
              {p.items.map((f) => (
                <tr key={`${f.trade_date}-${f.kind}`}>
                  <Td>{f.trade_date}</Td><Td>{f.kind}</Td><Td className="whitespace-normal">{f.detail}</Td>
                  <Td>{f.excluded ? <Badge tone="amber">excluded</Badge> : "no"}</Td>
                </tr>
              ))}
            </tbody>
          </Table>
        )
      }
    </Async>
  );
}

