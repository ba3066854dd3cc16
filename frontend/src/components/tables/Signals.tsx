"use client";
import Link from "next/link";
import type { Signal } from "@/lib/types";
import { money, num, pct, pnlClass, signedMoney } from "@/lib/format";
import { StatusBadge, Table, Td, Th, TickerLink } from "../ui";

/** Trading days from the signal's session to its close (or to `asOf`), counting weekdays. */
export function ageDays(s: Signal, asOf: string | null | undefined): number | null {
  const end = s.closed_at ? s.closed_at.slice(0, 10) : asOf;
  if (!end) return null;
  const d = new Date(s.trade_date + "T12:00:00Z");
  const stop = new Date(end + "T12:00:00Z");
  let n = 0;
  while (d < stop && n < 5000) {
    d.setUTCDate(d.getUTCDate() + 1);
    if (d.getUTCDay() % 6 !== 0) n++;
  }
  return n;
}

export default function SignalsTable({ rows, asOf }: { rows: Signal[]; asOf?: string | null }) {
  // The signal list does not carry the expected value on every server; show the column when it does.
  const hasEV = rows.some((s) => s.expected_value !== undefined && s.expected_value !== null);
  return (
    <Table caption="Signals">
      <thead>
        <tr>
          <Th>Date (ET)</Th>
          <Th>Ticker</Th>
          <Th>Status</Th>
          <Th right>Confidence</Th>
          {hasEV && <Th right>EV</Th>}
          <Th right>Entry</Th>
          <Th right>Target</Th>
          <Th right>Stop</Th>
          <Th right>R:R</Th>
          <Th right>Size</Th>
          <Th right>Age (days)</Th>
          <Th>Exit</Th>
          <Th right>P&amp;L</Th>
          <Th />
        </tr>
      </thead>
      <tbody>
        {rows.map((s) => (
          <tr key={s.id} data-signal={s.id}>
            <Td>{s.trade_date}</Td>
            <Td>
              <TickerLink symbol={s.ticker} />
            </Td>
            <Td>
              <StatusBadge status={s.status} />
            </Td>
            <Td right>{pct(s.confidence)}</Td>
            {hasEV && <Td right>{pct(s.expected_value, 2, true)}</Td>}
            <Td right>{money(s.fill_price ?? s.entry_price)}</Td>
            <Td right>{money(s.target_price)}</Td>
            <Td right>{money(s.stop_price)}</Td>
            <Td right>{num(s.risk_reward, 1)}</Td>
            <Td right>
              {s.shares} sh · {pct(s.position_size_pct)}
            </Td>
            <Td right>{ageDays(s, asOf) ?? "—"}</Td>
            <Td>{s.exit_reason ?? "—"}</Td>
            <Td right className={pnlClass(s.pnl)}>
              {signedMoney(s.pnl)}
            </Td>
            <Td>
              <Link href={`/signals/detail/?id=${s.id}`} className="text-sky-700 underline dark:text-sky-400">
                Why?<span className="sr-only"> (signal {s.id}, {s.ticker})</span>
              </Link>
            </Td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}
