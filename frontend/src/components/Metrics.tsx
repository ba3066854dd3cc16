"use client";
// Performance metrics as `backend/portfolio/metrics.py::PerformanceReport.to_dict()` shapes them: the same
// numbers as `tft-trader portfolio show` and the backtest summaries.
import { num, pct, pnlClass, signedMoney } from "@/lib/format";
import { Stat, Table, Td, Th } from "./ui";

type Rec = Record<string, unknown>;
const n = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

export interface Perf {
  equity?: Rec & { drawdown?: Rec; monthly_returns?: Record<string, number> };
  trades?: Rec & { by_exit_reason?: Record<string, Rec>; by_month?: Record<string, Rec> };
}

export function MetricsGrid({ perf }: { perf: Perf }) {
  const e = perf.equity ?? {};
  const t = perf.trades ?? {};
  return (
    <dl className="grid grid-cols-2 gap-4 sm:grid-cols-4 lg:grid-cols-5" data-metrics>
      <Stat label="Total return" value={pct(n(e.total_return), 2, true)} className={pnlClass(n(e.total_return))} />
      <Stat label="CAGR" value={pct(n(e.cagr), 2, true)} />
      <Stat label="Sharpe" value={num(n(e.sharpe))} />
      <Stat label="Sortino" value={num(n(e.sortino))} />
      <Stat label="Calmar" value={num(n(e.calmar))} />
      <Stat label="Max drawdown" value={pct(n(e.drawdown?.max_drawdown))} hint={e.drawdown?.trough_date ? `trough ${e.drawdown.trough_date}` : undefined} />
      <Stat label="Win rate" value={pct(n(t.win_rate))} hint={`${n(t.wins) ?? 0} of ${n(t.trades) ?? 0} trades`} />
      <Stat label="Profit factor" value={num(n(t.profit_factor))} />
      <Stat label="Expectancy" value={signedMoney(n(t.expectancy))} hint="mean P&L per trade" />
      <Stat label="Exposure" value={pct(n(e.exposure))} hint="sessions holding a position" />
    </dl>
  );
}

export function GroupTable({ groups, caption, keyLabel }: { groups: Record<string, Rec>; caption: string; keyLabel: string }) {
  const rows = Object.entries(groups);
  return (
    <Table caption={caption}>
      <thead>
        <tr>
          <Th>{keyLabel}</Th>
          <Th right>Trades</Th>
          <Th right>Win rate</Th>
          <Th right>P&amp;L</Th>
          <Th right>Avg return</Th>
          <Th right>Profit factor</Th>
        </tr>
      </thead>
      <tbody>
        {rows.map(([k, g]) => (
          <tr key={k}>
            <Td>{k}</Td>
            <Td right>{n(g.trades)}</Td>
            <Td right>{pct(n(g.win_rate))}</Td>
            <Td right className={pnlClass(n(g.total_pnl))}>{signedMoney(n(g.total_pnl))}</Td>
            <Td right>{pct(n(g.avg_return), 2, true)}</Td>
            <Td right>{num(n(g.profit_factor))}</Td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}

