"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useEffect, useState } from "react";
import { useLiveStatus } from "@/lib/events";

const LINKS = [
  { href: "/", label: "Today" },
  { href: "/signals/", label: "Signals" },
  { href: "/portfolio/", label: "Portfolio" },
  { href: "/ticker/", label: "Ticker" },
  { href: "/models/", label: "Models & backtests" },
  { href: "/settings/", label: "Settings" },
];

function LiveBadge() {
  const { status } = useLiveStatus();
  const text = {
    connecting: "connecting…",
    live: "live",
    offline: "offline, retrying",
    unavailable: "no live updates",
  }[status];
  const dot = status === "live" ? "bg-emerald-500" : status === "connecting" ? "bg-amber-400" : "bg-slate-400";
  return (
    <span
      className="inline-flex items-center gap-1.5 text-xs text-slate-500"
      title="Live updates from /api/v1/events"
      data-live={status}
    >
      <span aria-hidden className={`h-2 w-2 rounded-full ${dot}`} />
      {text}
    </span>
  );
}

function ThemeToggle() {
  const [dark, setDark] = useState<boolean | null>(null);
  useEffect(() => setDark(document.documentElement.classList.contains("dark")), []);
  const toggle = () => {
    const next = !document.documentElement.classList.contains("dark");
    document.documentElement.classList.toggle("dark", next);
    try {
      localStorage.setItem("tft.theme", next ? "dark" : "light");
    } catch {
      /* private mode: the choice lasts this page */
    }
    setDark(next);
    window.dispatchEvent(new Event("tft-theme"));
  };
  return (
    <button
      type="button"
      onClick={toggle}
      aria-pressed={dark ?? false}
      className="rounded border border-slate-300 px-2 py-1 text-xs dark:border-slate-700"
    >
      {dark ? "Light theme" : "Dark theme"}
    </button>
  );
}

export default function Nav() {
  const path = usePathname();
  const [open, setOpen] = useState(false);
  return (
    <header className="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
      <div className="mx-auto flex max-w-7xl flex-wrap items-center gap-x-4 gap-y-2 px-4 py-2">
        <Link href="/" className="font-bold tracking-tight">
          TFT Trader
        </Link>
        <button
          type="button"
          className="rounded border border-slate-300 px-2 py-1 text-sm md:hidden dark:border-slate-700"
          aria-expanded={open}
          aria-controls="main-nav"
          onClick={() => setOpen(!open)}
        >
          Menu
        </button>
        <nav id="main-nav" aria-label="Main" className={`${open ? "block" : "hidden"} w-full md:block md:w-auto`}>
          <ul className="flex flex-col gap-1 md:flex-row md:gap-1">
            {LINKS.map((l) => {
              const current = l.href === "/" ? path === "/" : path.startsWith(l.href);
              return (
                <li key={l.href}>
                  <Link
                    href={l.href}
                    aria-current={current ? "page" : undefined}
                    onClick={() => setOpen(false)}
                    className={`block rounded px-2 py-1 text-sm ${current ? "bg-slate-200 font-medium dark:bg-slate-800" : "hover:bg-slate-100 dark:hover:bg-slate-800"}`}
                  >
                    {l.label}
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
        <div className="ml-auto flex items-center gap-3">
          <LiveBadge />
          <ThemeToggle />
        </div>
      </div>
    </header>
  );
}
