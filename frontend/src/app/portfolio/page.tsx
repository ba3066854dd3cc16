"use client";
import dynamic from "next/dynamic";
import { useMemo } from "react";
import { Async } from "@/components/Async";
import { GroupTable, MetricsGrid, type Perf } from "@/components/Metrics";
import PortfolioSummary from "@/components/PortfolioSummary";
import PositionsTable from "@/components/tables/Positions";
import TradesTable from "@/components/tables/Trades";
import { Card, Empty, Loading, PageTitle } from "@/components/ui";
import { api, apiAll, type Page } from "@/lib/api";
import { isNotFound, useData } from "@/lib/hooks";
import type { EquityPoint, Metrics, PortfolioSummary as Summary, Position, PriceBar, Trade } from "@/lib/types";

const LineChart = dynamic(() => import("@/components/LineChart"), { ssr: false, loading: () => <Loading what="the chart" /> });

const NO_PORTFOLIO = "No paper portfolio yet: the first pipeline run creates it (`tft-trader pipeline run`).";

export default function PortfolioPage() {
  const summary = useData("portfolio", () => api<Summary>("/portfolio"));
  const equity = useData("equity", () => apiAll<EquityPoint>("/portfolio/equity"));
  const metrics = useData("metrics", () => api<Metrics>("/portfolio/metrics"));
  const positions = useData("positions", () => api<Page<Position>>("/portfolio/positions"));
  const trades = useData("trades", () => apiAll<Trade>("/portfolio/trades", 1000));
  const first = equity.data?.[0]?.trade_date;
  const last = equity.data?.at(-1)?.trade_date;
  // Buy-and-hold: the market index (SPY) bought with the starting capital on the curve's first session.
  const spy = useData(first && last ? `spy-${first}-${last}` : null, async () => {
    try {
      return await apiAll<PriceBar>(`/prices/SPY?start=${first}&end=${last}`);
    } catch (e) {
      if (isNotFound(e)) return [];
      throw e;
    }
  });

  const lines = useMemo(() => {
    const pts = equity.data ?? [];
    if (pts.length === 0) return null;
    const eq = pts.map((p) => ({ time: p.trade_date, value: p.equity }));
    const out = [{ name: "Strategy equity", color: "#0ea5e9", points: eq }];
    const bars = spy.data ?? [];
    if (bars.length > 1) {
      const base = summary.data?.starting_capital ?? pts[0].equity;
      const c0 = bars[0].adj_close || bars[0].close;
      out.push({ name: "Buy-and-hold SPY", color: "#a855f7", points: bars.map((b) => ({ time: b.trade_date, value: (base * (b.adj_close || b.close)) / c0 })) });
    }
    let peak = -Infinity;
    const dd = pts.map((p) => {
      peak = Math.max(peak, p.equity);
      return { time: p.trade_date, value: p.equity / peak - 1 };
    });
    return { equity: out, drawdown: [{ name: "Drawdown", color: "#f43f5e", points: dd, area: true, percent: true }] };
  }, [equity.data, spy.data, summary.data]);

  return (
    <>
      <PageTitle sub="The live paper portfolio: fills at the next open after a signal, after slippage and commissions">
        Portfolio
      </PageTitle>
      <div className="grid grid-cols-1 gap-4">
        <Card title="Summary" id="summary">
          <Async state={summary} what="the portfolio" missing={NO_PORTFOLIO}>
            {(s) => <PortfolioSummary s={s} />}
          </Async>
        </Card>
        <div className="grid grid-cols-1 gap-4 lg:grid-cols-2">
          <Card title="Equity against buy-and-hold" id="equity">
            <Async state={equity} what="the equity curve" missing={NO_PORTFOLIO}>
              {() =>
                lines ? (
                  <>
                    <LineChart lines={lines.equity} label="Equity curve of the strategy against buy-and-hold SPY" />
                    {spy.data && spy.data.length < 2 && (
                      <p className="mt-1 text-xs text-slate-500">No SPY prices stored for this period: buy-and-hold is not drawn.</p>
                    )}
                  </>
                ) : (
                  <Empty>No equity recorded yet: the book is marked at each session&apos;s close by the pipeline.</Empty>
                )
              }
            </Async>
          </Card>
          <Card title="Drawdown" id="drawdown">
            <Async state={equity} what="the drawdown" missing={NO_PORTFOLIO}>
              {() =>
                lines ? (
                  <LineChart lines={lines.drawdown} label="Drawdown from the running equity peak" />
                ) : (
                  <Empty>No equity recorded yet.</Empty>
                )
              }
            </Async>
          </Card>
        </div>
        <Card title="Metrics" id="metrics">
          <Async state={metrics} what="metrics" missing={NO_PORTFOLIO}>
            {(m) =>
              m.performance ? (
                <MetricsGrid perf={m.performance as Perf} />
              ) : (
                <Empty>No metrics before the first marked session.</Empty>
              )
            }
          </Async>
        </Card>
        <Card title="Open positions" id="positions">
          <Async state={positions} what="positions" missing={NO_PORTFOLIO}>
            {(p) => (p.items.length ? <PositionsTable rows={p.items} /> : <Empty>No open position.</Empty>)}
          </Async>
        </Card>
        <div className="grid grid-cols-1 gap-4 lg:grid-cols-2">
          <Card title="P&L by exit reason" id="by-reason">
            <Async state={metrics} what="P&L by exit reason" missing={NO_PORTFOLIO}>
              {(m) => {
                const g = (m.performance as Perf | null)?.trades?.by_exit_reason ?? {};
                return Object.keys(g).length ? (
                  <GroupTable groups={g} caption="P&L by exit reason" keyLabel="Exit reason" />
                ) : (
                  <Empty>No closed trade yet.</Empty>
                );
              }}
            </Async>
          </Card>
          <Card title="P&L by month" id="by-month">
            <Async state={metrics} what="P&L by month" missing={NO_PORTFOLIO}>
              {(m) => {
                const g = (m.performance as Perf | null)?.trades?.by_month ?? {};
                return Object.keys(g).length ? (
                  <GroupTable groups={g} caption="P&L by exit month" keyLabel="Month" />
                ) : (
                  <Empty>No closed trade yet.</Empty>
                );
              }}
            </Async>
          </Card>
        </div>
        <Card title="Closed trades" id="trades">
          <Async state={trades} what="closed trades" missing={NO_PORTFOLIO}>
            {(t) =>
              t.length ? (
                <TradesTable rows={t} />
              ) : (
                <Empty>No closed trade yet: a position closes at its stop, its target, a SELL call or after the holding limit.</Empty>
              )
            }
          </Async>
        </Card>
      </div>
    </>
  );
}
