"use client";
import type { Candidate } from "@/lib/types";
import { money, pct } from "@/lib/format";
import { Badge, Empty, Table, Td, Th, TickerLink } from "../ui";

export function driverText(d: Record<string, unknown>): string {
  const name = String(d.feature ?? d.name ?? "?");
  const v = d.value;
  const c = d.contribution ?? d.impact ?? d.shap;
  const parts = [name];
  if (typeof v === "number") parts.push(`= ${Math.abs(v) < 10 ? v.toFixed(3) : v.toFixed(1)}`);
  if (typeof c === "number") parts.push(`(${c >= 0 ? "+" : ""}${c.toFixed(3)})`);
  return parts.join(" ");
}

export default function CandidatesTable({ rows, date }: { rows: Candidate[]; date?: string | null }) {
  if (rows.length === 0)
    return (
      <Empty>
        No ranked candidates{date ? ` for ${date}` : ""}: the after-close pipeline stores them once the active model
        has predicted a session. Run <code>tft-trader pipeline run</code> (or wait for the 17:30 ET run).
      </Empty>
    );
  return (
    <Table caption="The day's ranked candidates and why each is or is not a signal">
      <thead>
        <tr>
          <Th right>#</Th>
          <Th>Ticker</Th>
          <Th>Call</Th>
          <Th right>Confidence</Th>
          <Th right>EV</Th>
          <Th right>Entry</Th>
          <Th right>Stop</Th>
          <Th right>Target</Th>
          <Th>Signal?</Th>
          <Th>Why</Th>
        </tr>
      </thead>
      <tbody>
        {rows.map((c) => (
          <tr key={c.ticker} data-candidate={c.ticker}>
            <Td right>{c.rank}</Td>
            <Td>
              <TickerLink symbol={c.ticker} />
            </Td>
            <Td>{c.call}</Td>
            <Td right>{pct(c.confidence)}</Td>
            <Td right>{pct(c.expected_value, 2, true)}</Td>
            <Td right>{money(c.entry_price)}</Td>
            <Td right>{money(c.stop_price)}</Td>
            <Td right>{money(c.target_price)}</Td>
            <Td>{c.is_signal ? <Badge tone="green">signal</Badge> : <Badge>no</Badge>}</Td>
            <Td className="max-w-md whitespace-normal">
              <span data-why>{c.why}</span>
              {c.drivers && c.drivers.length > 0 && (
                <details className="mt-1 text-xs text-slate-500">
                  <summary className="cursor-pointer">top drivers</summary>
                  <ul className="list-disc pl-4">
                    {c.drivers.slice(0, 5).map((d, i) => (
                      <li key={i}>{driverText(d)}</li>
                    ))}
                  </ul>
                </details>
              )}
            </Td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}
