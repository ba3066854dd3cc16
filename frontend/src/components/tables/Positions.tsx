"use client";
import type { Position } from "@/lib/types";
import { money, pct, pnlClass, signedMoney } from "@/lib/format";
import { Table, Td, Th, TickerLink } from "../ui";

export default function PositionsTable({ rows }: { rows: Position[] }) {
  return (
    <Table caption="Open positions">
      <thead>
        <tr>
          <Th>Ticker</Th>
          <Th right>Shares</Th>
          <Th>Entry date</Th>
          <Th right>Fill</Th>
          <Th right>Last</Th>
          <Th right>Stop</Th>
          <Th right>Target</Th>
          <Th right>Value</Th>
          <Th right>Unrealised</Th>
          <Th>Exit order</Th>
        </tr>
      </thead>
      <tbody>
        {rows.map((p) => (
          <tr key={p.ticker}>
            <Td>
              <TickerLink symbol={p.ticker} />
            </Td>
            <Td right>{p.shares}</Td>
            <Td>{p.entry_date}</Td>
            <Td right>{money(p.fill_price)}</Td>
            <Td right>{money(p.last_price)}</Td>
            <Td right>{money(p.stop_price)}</Td>
            <Td right>{money(p.target_price)}</Td>
            <Td right>{money(p.market_value)}</Td>
            <Td right className={pnlClass(p.unrealized_pnl)}>
              {signedMoney(p.unrealized_pnl)} ({pct(p.unrealized_pct, 1, true)})
            </Td>
            <Td>{p.exit_order ?? "—"}</Td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}
