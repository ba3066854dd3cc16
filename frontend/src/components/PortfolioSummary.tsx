"use client";
import type { PortfolioSummary as Summary } from "@/lib/types";
import { money, pct, pnlClass, signedMoney } from "@/lib/format";
import { Badge, Stat } from "./ui";

export default function PortfolioSummary({ s }: { s: Summary }) {
  // `max_drawdown` is the halt limit in force (risk.max_drawdown_pct), not the worst drawdown seen.
  const limit = s.max_drawdown;
  const used = limit > 0 ? Math.min(1, s.drawdown / limit) : 0;
  return (
    <div>
      <dl className="grid grid-cols-2 gap-4 sm:grid-cols-3 lg:grid-cols-6">
        <Stat label="Equity" value={money(s.equity, 0)} hint={`cash ${money(s.cash, 0)}`} />
        <Stat label="Today's P&L" value={signedMoney(s.today_pnl)} className={pnlClass(s.today_pnl)} />
        <Stat
          label="Total P&L"
          value={signedMoney(s.total_pnl)}
          className={pnlClass(s.total_pnl)}
          hint={`from ${money(s.starting_capital, 0)}`}
        />
        <Stat label="Realised" value={signedMoney(s.realized_pnl)} className={pnlClass(s.realized_pnl)} />
        <Stat label="Unrealised" value={signedMoney(s.unrealized_pnl)} className={pnlClass(s.unrealized_pnl)} />
        <Stat label="Positions" value={s.n_positions} hint={`${s.n_pending} pending entries`} />
      </dl>
      <div className="mt-4">
        <div className="flex flex-wrap items-center justify-between gap-2 text-sm">
          <span>
            Drawdown {pct(s.drawdown)} of the {pct(limit, 0)} halt limit
          </span>
          {s.kill_switch ? (
            <Badge tone="red">kill switch ON{s.kill_switch_reason ? `: ${s.kill_switch_reason}` : ""}</Badge>
          ) : (
            <Badge tone="green">kill switch off: new entries allowed</Badge>
          )}
        </div>
        <div
          className="mt-1 h-2 w-full rounded bg-slate-200 dark:bg-slate-800"
          role="meter"
          aria-label="Drawdown against the halt limit"
          aria-valuemin={0}
          aria-valuemax={limit}
          aria-valuenow={s.drawdown}
        >
          <div
            className={`h-2 rounded ${used > 0.66 ? "bg-rose-500" : used > 0.33 ? "bg-amber-400" : "bg-emerald-500"}`}
            style={{ width: `${used * 100}%` }}
          />
        </div>
        <p className="mt-1 text-xs text-slate-500">As of the {s.as_of ?? "—"} close (ET).</p>
      </div>
    </div>
  );
}
