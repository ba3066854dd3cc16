"use client";
import Link from "next/link";
import { useState } from "react";
import { Async } from "@/components/Async";
import ModelTrust from "@/components/ModelTrust";
import { FailedDeliveries, PipelineRuns } from "@/components/OpsPanels";
import PortfolioSummary from "@/components/PortfolioSummary";
import CandidatesTable from "@/components/tables/Candidates";
import PositionsTable from "@/components/tables/Positions";
import SignalsTable from "@/components/tables/Signals";
import Trending from "@/components/Trending";
import { Card, Empty, Loading, PageTitle } from "@/components/ui";
import { api, type Page } from "@/lib/api";
import { useData } from "@/lib/hooks";
import type { CandidatesPage, PortfolioSummary as Summary, Position, Signal } from "@/lib/types";

export default function TodayPage() {
  const summary = useData("portfolio", () => api<Summary>("/portfolio"));
  const [date, setDate] = useState("");
  const candidates = useData(`candidates-${date}`, () =>
    api<CandidatesPage>(`/candidates${date ? `?date=${date}` : ""}`),
  );
  const active = useData("signals-open", () =>
    api<Page<Signal>>("/signals?status=active&status=pending&limit=50"),
  );
  const positions = useData("positions", () => api<Page<Position>>("/portfolio/positions"));
  const asOf = summary.data?.as_of ?? null;
  const candDate = candidates.data?.trade_date;

  return (
    <>
      <PageTitle sub={asOf ? `Last session ${asOf} (ET close)` : "No session processed yet"}>Today</PageTitle>
      <div className="grid grid-cols-1 gap-4">
        <Card title="Model" id="model">
          <ModelTrust />
        </Card>
        <Card
          title={`Ranked candidates${candDate ? ` for ${candDate}` : ""}`}
          id="candidates"
          actions={
            <label className="flex items-center gap-2 text-sm">
              Session
              <input
                type="date"
                value={date}
                onChange={(e) => setDate(e.target.value)}
                className="rounded border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700"
              />
            </label>
          }
        >
          <Async
            state={candidates}
            what="candidates"
            missing={
              date
                ? `No candidates stored for ${date}: pick a session the pipeline ran on.`
                : "This server has no /api/v1/candidates endpoint yet: `tft-trader signals candidates` lists them."
            }
          >
            {(page) => (
              <>
                {page.model_trusted === false && page.items.length > 0 && (
                  <p className="mb-2 text-sm text-amber-700 dark:text-amber-300">
                    The model that ranked these is not trusted: they are shown as evidence, not as trades
                    {page.n_signals > 0 ? ` (${page.n_signals} became signals because the trust requirement is off)` : ""}.
                  </p>
                )}
                <CandidatesTable rows={page.items} date={candDate} />
              </>
            )}
          </Async>
        </Card>
        <div className="grid grid-cols-1 gap-4 lg:grid-cols-2">
          <Card
            title="Active signals"
            id="active-signals"
            actions={
              <Link href="/signals/" className="text-sm text-sky-700 underline dark:text-sky-400">
                All signals
              </Link>
            }
          >
            <Async state={active} what="signals">
              {(page) =>
                page.items.length === 0 ? (
                  <Empty>
                    No active or pending signal. Signals appear when a trusted model&apos;s candidate passes every risk
                    rule; the candidates above say why each one did not.
                  </Empty>
                ) : (
                  <SignalsTable rows={page.items} asOf={asOf} />
                )
              }
            </Async>
          </Card>
          <Card title="Open positions" id="positions">
            <Async state={positions} what="positions">
              {(page) =>
                page.items.length === 0 ? (
                  <Empty>No open position: the paper portfolio holds cash until a signal is filled.</Empty>
                ) : (
                  <PositionsTable rows={page.items} />
                )
              }
            </Async>
          </Card>
        </div>
        <Card title="Paper portfolio" id="portfolio">
          <Async
            state={summary}
            what="the portfolio"
            missing="No paper portfolio yet: it is created by the first pipeline run (`tft-trader pipeline run`)."
          >
            {(s) => <PortfolioSummary s={s} />}
          </Async>
        </Card>
        <div className="grid grid-cols-1 gap-4 lg:grid-cols-2">
          <Card title="Trending on Reddit" id="trending">
            {summary.loading ? <Loading what="trending tickers" /> : <Trending asOf={asOf} />}
          </Card>
          <Card title="Pipeline runs" id="runs">
            <PipelineRuns />
          </Card>
        </div>
        <Card title="Failed notifications" id="failed-notifications">
          <FailedDeliveries />
        </Card>
      </div>
    </>
  );
}
