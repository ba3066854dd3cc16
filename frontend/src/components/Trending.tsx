"use client";
import { api } from "@/lib/api";
import { num } from "@/lib/format";
import { useData } from "@/lib/hooks";
import type { Page } from "@/lib/api";
import type { SentimentDay, Trending as T } from "@/lib/types";
import { Async } from "./Async";
import { Empty, SyntheticLabel, Table, Td, Th, TickerLink } from "./ui";

interface Row extends T {
  score: number | null;
  change: number | null;
  synthetic: boolean;
}

/**
 * The most-mentioned tickers over the 24 hours to `asOf`'s close (the portfolio's last session, so a replayed
 * history shows its own "now"), with each one's sentiment that day and the change in mentions from the day before.
 */
export default function Trending({ asOf }: { asOf: string | null }) {
  const at = asOf ? `${asOf}T21:00:00Z` : null;
  const state = useData(`trending-${at}`, async (): Promise<Row[]> => {
    const q = at ? `?hours=24&limit=8&at=${encodeURIComponent(at)}` : "?hours=24&limit=8";
    const page = await api<Page<T>>(`/sentiment/trending${q}`);
    return Promise.all(
      page.items.map(async (t) => {
        const end = asOf ?? new Date().toISOString().slice(0, 10);
        const start = new Date(Date.parse(end) - 10 * 86400000).toISOString().slice(0, 10);
        try {
          const days = await api<Page<SentimentDay>>(
            `/sentiment/${encodeURIComponent(t.ticker)}/daily?start=${start}&end=${end}`,
          );
          const last = days.items.at(-1);
          const prev = days.items.at(-2);
          return {
            ...t,
            score: last?.score ?? null,
            change: last && prev ? last.mentions - prev.mentions : null,
            synthetic: days.items.some((d) => d.synthetic),
          };
        } catch {
          return { ...t, score: null, change: null, synthetic: false };
        }
      }),
    );
  });
  return (
    <Async state={state} what="trending tickers">
      {(rows) =>
        rows.length === 0 ? (
          <Empty>
            No ticker was mentioned on Reddit in the 24 hours to {asOf ?? "now"}. Reddit is read hourly by the worker
            (or load the sample feed: <code>tft-trader reddit load-sample</code>).
          </Empty>
        ) : (
          <>
            {rows.some((r) => r.synthetic) && (
              <p className="mb-2">
                <SyntheticLabel />
              </p>
            )}
            <Table caption="Trending tickers">
              <thead>
                <tr>
                  <Th right>#</Th>
                  <Th>Ticker</Th>
                  <Th right>Mentions</Th>
                  <Th right>Change</Th>
                  <Th right>Sentiment</Th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.ticker}>
                    <Td right>{r.rank}</Td>
                    <Td>
                      <TickerLink symbol={r.ticker} />
                    </Td>
                    <Td right>{r.mentions}</Td>
                    <Td right>{r.change === null ? "—" : (r.change > 0 ? "+" : "") + r.change}</Td>
                    <Td right>{num(r.score, 2)}</Td>
                  </tr>
                ))}
              </tbody>
            </Table>
          </>
        )
      }
    </Async>
  );
}
