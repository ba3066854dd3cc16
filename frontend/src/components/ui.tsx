import Link from "next/link";
import type { ReactNode } from "react";
import { explain } from "@/lib/api";

export function Card({
  title,
  children,
  actions,
  id,
}: {
  title?: ReactNode;
  children: ReactNode;
  actions?: ReactNode;
  id?: string;
}) {
  const headingId = id ? `${id}-title` : undefined;
  return (
    <section
      aria-labelledby={headingId}
      className="min-w-0 rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900"
      data-card={id}
    >
      {(title || actions) && (
        <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
          {title && (
            <h2 id={headingId} className="text-base font-semibold">
              {title}
            </h2>
          )}
          {actions}
        </div>
      )}
      {children}
    </section>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p role="status" aria-live="polite" className="animate-pulse text-sm text-slate-500">
      Loading {what}…
    </p>
  );
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  return (
    <div
      role="alert"
      className="rounded-md border border-rose-300 bg-rose-50 p-3 text-sm text-rose-800 dark:border-rose-800 dark:bg-rose-950 dark:text-rose-200"
    >
      <p>{explain(error)}</p>
      {onRetry && (
        <button type="button" onClick={onRetry} className="mt-2 underline">
          Try again
        </button>
      )}
    </div>
  );
}

/** An empty state says why it is empty and what to do. */
export function Empty({ children }: { children: ReactNode }) {
  return (
    <p className="rounded-md border border-dashed border-slate-300 p-3 text-sm text-slate-600 dark:border-slate-700 dark:text-slate-400">
      {children}
    </p>
  );
}

export function Stat({
  label,
  value,
  hint,
  className = "",
}: {
  label: string;
  value: ReactNode;
  hint?: ReactNode;
  className?: string;
}) {
  return (
    <div className="min-w-0">
      <dt className="text-xs uppercase tracking-wide text-slate-500">{label}</dt>
      <dd className={`text-lg font-semibold ${className}`}>{value}</dd>
      {hint && <dd className="text-xs text-slate-500">{hint}</dd>}
    </div>
  );
}

export function Badge({ children, tone = "slate" }: { children: ReactNode; tone?: Tone }) {
  return <span className={`inline-block rounded px-1.5 py-0.5 text-xs font-medium ${TONES[tone]}`}>{children}</span>;
}

type Tone = "slate" | "green" | "red" | "amber" | "sky" | "violet";
const TONES: Record<Tone, string> = {
  slate: "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-300",
  green: "bg-emerald-100 text-emerald-800 dark:bg-emerald-900 dark:text-emerald-200",
  red: "bg-rose-100 text-rose-800 dark:bg-rose-900 dark:text-rose-200",
  amber: "bg-amber-100 text-amber-900 dark:bg-amber-900 dark:text-amber-100",
  sky: "bg-sky-100 text-sky-800 dark:bg-sky-900 dark:text-sky-200",
  violet: "bg-violet-100 text-violet-800 dark:bg-violet-900 dark:text-violet-200",
};

export function StatusBadge({ status }: { status: string }) {
  const tone: Tone =
    status === "active" ? "green" : status === "pending" ? "sky" : status === "rejected" ? "red" : "slate";
  return <Badge tone={tone}>{status}</Badge>;
}

export function SyntheticLabel() {
  return (
    <Badge tone="violet">
      <span title="The bundled sample Reddit feed is generated, not real posts">synthetic Reddit data</span>
    </Badge>
  );
}

export function TickerLink({ symbol }: { symbol: string }) {
  return (
    <Link href={`/ticker/?symbol=${encodeURIComponent(symbol)}`} className="font-medium text-sky-700 hover:underline dark:text-sky-400">
      {symbol}
    </Link>
  );
}

/** A horizontally scrollable table so wide tables stay usable at phone width. */
export function Table({ children, caption }: { children: ReactNode; caption: string }) {
  return (
    <div className="relative -mx-4 overflow-x-auto px-4" tabIndex={0} role="region" aria-label={caption}>
      <table className="w-full min-w-max border-collapse text-sm">
        <caption className="sr-only">{caption}</caption>
        {children}
      </table>
    </div>
  );
}

export function Th({ children, right }: { children?: ReactNode; right?: boolean }) {
  return (
    <th
      scope="col"
      className={`border-b border-slate-200 px-2 py-1.5 text-xs font-medium uppercase tracking-wide text-slate-500 dark:border-slate-800 ${right ? "text-right" : "text-left"}`}
    >
      {children}
    </th>
  );
}

export function Td({ children, right, className = "" }: { children?: ReactNode; right?: boolean; className?: string }) {
  return (
    <td className={`border-b border-slate-100 px-2 py-1.5 dark:border-slate-800/60 ${right ? "text-right" : ""} ${className}`}>
      {children}
    </td>
  );
}

export function PageTitle({ children, sub }: { children: ReactNode; sub?: ReactNode }) {
  return (
    <div className="mb-4">
      <h1 className="text-2xl font-bold">{children}</h1>
      {sub && <p className="text-sm text-slate-500">{sub}</p>}
    </div>
  );
}
