"use client";
// The last pipeline runs and failed notification deliveries (Today page).
import Link from "next/link";
import { api, type Page } from "@/lib/api";
import { etDateTime } from "@/lib/format";
import { useData } from "@/lib/hooks";
import type { Delivery, PipelineRun } from "@/lib/types";
import { Async } from "./Async";
import { Badge, Empty, Table, Td, Th } from "./ui";

export function PipelineRuns({ limit = 8 }: { limit?: number }) {
  const state = useData(`pipeline-runs-${limit}`, () => api<Page<PipelineRun>>(`/pipeline/runs?limit=${limit}`));
  return (
    <Async
      state={state}
      what="pipeline runs"
      missing="This server has no /api/v1/pipeline/runs endpoint yet: `tft-trader runs list` shows them."
    >
      {(page) =>
        page.items.length === 0 ? (
          <Empty>
            No pipeline run recorded yet. The worker runs the daily chain after each close (
            <code>tft-trader pipeline run</code> runs it by hand).
          </Empty>
        ) : (
          <Table caption="Last pipeline runs">
            <thead>
              <tr>
                <Th>Step</Th>
                <Th>Trading date</Th>
                <Th>Status</Th>
                <Th>Started</Th>
                <Th>Error</Th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((r) => (
                <tr key={r.id}>
                  <Td>{r.task}</Td>
                  <Td>{r.trading_date}</Td>
                  <Td>
                    <Badge tone={r.status === "success" ? "green" : r.status === "failed" ? "red" : r.status === "running" ? "sky" : "slate"}>
                      {r.status}
                    </Badge>
                  </Td>
                  <Td>{etDateTime(r.started_at)}</Td>
                  <Td className="max-w-xs truncate">{r.error ?? ""}</Td>
                </tr>
              ))}
            </tbody>
          </Table>
        )
      }
    </Async>
  );
}

export function FailedDeliveries() {
  const state = useData("deliveries-failed", () =>
    api<Page<Delivery>>("/notifications/deliveries?failed=true&limit=10"),
  );
  return (
    <Async
      state={state}
      what="failed notifications"
      missing="This server has no /api/v1/notifications endpoints yet: `tft-trader notify deliveries` lists them."
    >
      {(page) =>
        page.items.length === 0 ? (
          <Empty>No failed notification deliveries.</Empty>
        ) : (
          <>
            <ul className="space-y-1 text-sm">
              {page.items.map((d) => (
                <li key={d.id}>
                  <Badge tone="red">{d.status}</Badge> {d.event_type} → {d.channel} {d.target}: {d.last_error ?? d.last_reply ?? `HTTP ${d.last_code}`}{" "}
                  <span className="text-xs text-slate-500">({etDateTime(d.updated_at)}, {d.attempts} attempts)</span>
                </li>
              ))}
            </ul>
            <Link href="/settings/" className="mt-2 inline-block text-sm text-sky-700 underline dark:text-sky-400">
              Manage notifications
            </Link>
          </>
        )
      }
    </Async>
  );
}
