"use client";
import type { Trade } from "@/lib/types";
import { money, pct, pnlClass, signedMoney } from "@/lib/format";
import { Table, Td, Th, TickerLink } from "../ui";

export default function TradesTable({ rows }: { rows: Trade[] }) {
  return (
    <Table caption="Closed trades">
      <thead>
        <tr>
          <Th>Ticker</Th>
          <Th right>Shares</Th>
          <Th>Entry</Th>
          <Th right>Entry fill</Th>
          <Th>Exit</Th>
          <Th right>Exit fill</Th>
          <Th>Reason</Th>
          <Th right>P&amp;L</Th>
          <Th right>Return</Th>
        </tr>
      </thead>
      <tbody>
        {rows.map((t) => (
          <tr key={t.id}>
            <Td>
              <TickerLink symbol={t.ticker} />
            </Td>
            <Td right>{t.shares}</Td>
            <Td>{t.entry_date}</Td>
            <Td right>{money(t.entry_fill)}</Td>
            <Td>{t.exit_date}</Td>
            <Td right>{money(t.exit_fill)}</Td>
            <Td>{t.exit_reason}</Td>
            <Td right className={pnlClass(t.pnl)}>
              {signedMoney(t.pnl)}
            </Td>
            <Td right className={pnlClass(t.return_pct)}>
              {pct(t.return_pct, 2, true)}
            </Td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}
