"use client";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { Async } from "@/components/Async";
import { driverText } from "@/components/tables/Candidates";
import { Badge, Card, Empty, Loading, PageTitle, Stat, StatusBadge, Table, Td, Th, TickerLink } from "@/components/ui";
import { api, type Page } from "@/lib/api";
import { etDateTime, money, num, pct, pnlClass, signedMoney } from "@/lib/format";
import { isNotFound, useData } from "@/lib/hooks";
import type { Candidate, CandidatesPage, Signal, SignalDetail } from "@/lib/types";

export default function SignalDetailPage() {
  return (
    <Suspense fallback={<Loading what="the signal" />}>
      <Detail />
    </Suspense>
  );
}

function Detail() {
  const id = Number(useSearchParams().get("id"));
  const valid = Number.isInteger(id) && id > 0;
  const signal = useData(valid ? `signal-${id}` : null, () => api<SignalDetail>(`/signals/${id}`));
  if (!valid)
    return (
      <Empty>
        No signal chosen: open one from the <Link href="/signals/" className="underline">signals list</Link>.
      </Empty>
    );
  return (
    <Async state={signal} what="the signal" missing={<>Signal {id} does not exist. <Link href="/signals/" className="underline">All signals</Link></>}>
      {(s) => <SignalView s={s} />}
    </Async>
  );
}

function SignalView({ s }: { s: SignalDetail }) {
  const ex = s.explanation as { text?: string; probabilities?: Record<string, number | null>; contributions?: Record<string, unknown>[]; risk_notes?: string[] };
  return (
    <>
      <PageTitle sub={`${s.signal} call on the ${s.trade_date} close (ET) · generated ${etDateTime(s.generated_at)}`}>
        <TickerLink symbol={s.ticker} /> signal #{s.id} <StatusBadge status={s.status} />
      </PageTitle>
      <div className="grid grid-cols-1 gap-4">
        <Card title="The trade" id="trade">
          <dl className="grid grid-cols-2 gap-4 sm:grid-cols-4 lg:grid-cols-6">
            <Stat label="Confidence (P win)" value={pct(s.confidence)} />
            <Stat label="Expected value" value={pct(s.expected_value, 2, true)} />
            <Stat label="Entry" value={money(s.entry_price)} hint={s.fill_price ? `filled ${money(s.fill_price)}` : "fills at the next open"} />
            <Stat label="Target" value={money(s.target_price)} hint={pct(s.target_pct, 1, true)} />
            <Stat label="Stop" value={money(s.stop_price)} hint={s.stop_pct !== null ? `-${pct(s.stop_pct)}` : undefined} />
            <Stat label="Reward : risk" value={num(s.risk_reward, 1)} />
            <Stat label="Size" value={`${s.shares} sh`} hint={`${pct(s.position_size_pct)} of equity`} />
            <Stat label="Sector" value={s.sector ?? "—"} />
            <Stat label="Expires" value={etDateTime(s.expires_at)} />
            <Stat label="Exit" value={s.exit_reason ?? "—"} hint={s.exit_price ? money(s.exit_price) : undefined} />
            <Stat label="P&L" value={signedMoney(s.pnl)} className={pnlClass(s.pnl)} hint={pct(s.return_pct, 2, true)} />
            <Stat label="Model" value={<span className="font-mono text-sm">{s.model_version ?? "—"}</span>} />
          </dl>
        </Card>
        <div className="grid grid-cols-1 gap-4 lg:grid-cols-2">
          <Card title="Why the model made the call" id="explanation">
            {ex.text && <p className="mb-2" data-explanation>{ex.text}</p>}
            {ex.probabilities && (
              <p className="mb-2 text-sm">
                Class probabilities:{" "}
                {Object.entries(ex.probabilities).map(([k, v]) => `${k} ${pct(v)}`).join(" · ")}
              </p>
            )}
            {ex.contributions && ex.contributions.length > 0 ? (
              <>
                <h3 className="text-sm font-medium">Top drivers</h3>
                <ul className="list-disc pl-5 text-sm">
                  {ex.contributions.map((c, i) => (
                    <li key={i}>{driverText(c)}</li>
                  ))}
                </ul>
              </>
            ) : (
              <Empty>The model stored no feature contributions for this call.</Empty>
            )}
          </Card>
          <Card title="What it saw at the close" id="context">
            <dl className="grid grid-cols-2 gap-4">
              <Stat label="RSI 14" value={num(s.indicators.rsi_14, 1)} />
              <Stat label="MACD" value={num(s.indicators.macd, 3)} />
              <Stat label="Reddit sentiment" value={num(s.sentiment.score, 2)} hint="synthetic in the demo feed" />
              <Stat label="Sentiment trend" value={num(s.sentiment.trend, 2)} />
            </dl>
          </Card>
        </div>
        <Card title="Risk decision" id="risk">
          <p className="mb-2">
            {s.risk.approved ? <Badge tone="green">approved</Badge> : <Badge tone="red">rejected</Badge>}
          </p>
          {s.risk.reasons.length > 0 && (
            <p className="text-sm">Failed rules: {s.risk.reasons.join(", ")}</p>
          )}
          {s.risk.messages.length > 0 ? (
            <ul className="list-disc pl-5 text-sm">
              {s.risk.messages.map((m) => (
                <li key={m}>{m}</li>
              ))}
            </ul>
          ) : (
            s.risk.approved && <p className="text-sm text-slate-500">Every risk rule passed.</p>
          )}
          {ex.risk_notes && ex.risk_notes.length > 0 && (
            <ul className="mt-2 list-disc pl-5 text-sm text-slate-500">
              {ex.risk_notes.map((m) => (
                <li key={m}>{m}</li>
              ))}
            </ul>
          )}
        </Card>
        <Card title={`Other candidates of ${s.trade_date}`} id="same-day">
          <SameDay date={s.trade_date} self={s.ticker} />
        </Card>
      </div>
    </>
  );
}

/** The same session's candidates that were not signals, with why; rejected signals when the server has no candidates endpoint. */
function SameDay({ date, self }: { date: string; self: string }) {
  const state = useData(`same-day-${date}`, async (): Promise<{ rows: Candidate[]; source: string }> => {
    try {
      const page = await api<CandidatesPage>(`/candidates?date=${date}`);
      return { rows: page.items.filter((c) => !c.is_signal && c.ticker !== self), source: "candidates" };
    } catch (e) {
      if (!isNotFound(e)) throw e;
      const rej = await api<Page<Signal & { reasons?: string[] }>>(`/signals?status=rejected&start=${date}&end=${date}`);
      return {
        rows: rej.items.map((r, i) => ({
          trade_date: r.trade_date, ticker: r.ticker, rank: i + 1, call: r.signal, confidence: r.confidence,
          expected_value: null, entry_price: r.entry_price, stop_price: r.stop_price, target_price: r.target_price,
          is_signal: false, reasons: r.reasons ?? [], why: "rejected by the risk manager",
        })),
        source: "rejected signals",
      };
    }
  });
  return (
    <Async state={state} what="the day's candidates">
      {({ rows }) =>
        rows.length === 0 ? (
          <Empty>No other candidate that day: every ranked candidate became a signal.</Empty>
        ) : (
          <Table caption="The same day's candidates that were not signals">
            <thead>
              <tr>
                <Th right>#</Th>
                <Th>Ticker</Th>
                <Th right>Confidence</Th>
                <Th right>EV</Th>
                <Th>Why not a signal</Th>
              </tr>
            </thead>
            <tbody>
              {rows.map((c) => (
                <tr key={c.ticker} data-candidate={c.ticker}>
                  <Td right>{c.rank}</Td>
                  <Td><TickerLink symbol={c.ticker} /></Td>
                  <Td right>{pct(c.confidence)}</Td>
                  <Td right>{pct(c.expected_value, 2, true)}</Td>
                  <Td className="whitespace-normal">{c.why}{c.reasons.length > 0 && <span className="text-xs text-slate-500"> ({c.reasons.join(", ")})</span>}</Td>
                </tr>
              ))}
            </tbody>
          </Table>
        )
      }
    </Async>
  );
}
