"use client";
// Time-series lines (equity curves, drawdown) with lightweight-charts, loaded on demand so pages without a
// chart in view don't pay for it. Created in an effect and removed on unmount.

import { useEffect, useRef } from "react";
import { baseOptions, onThemeChange } from "./chartTheme";

export interface LineSpec {
  name: string;
  color: string;
  points: { time: string; value: number }[];
  area?: boolean;
  percent?: boolean;
}

export default function LineChart({
  lines,
  height = 260,
  label,
}: {
  lines: LineSpec[];
  height?: number;
  label: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    let disposed = false;
    let cleanup = () => {};
    void import("lightweight-charts").then((lc) => {
      if (disposed) return;
      const chart = lc.createChart(el, { ...baseOptions(), height });
      for (const line of lines) {
        const fmt = line.percent
          ? { type: "custom" as const, formatter: (v: number) => `${(v * 100).toFixed(1)}%`, minMove: 0.0001 }
          : { type: "price" as const, precision: 0, minMove: 1 };
        const series = line.area
          ? chart.addSeries(lc.AreaSeries, {
              lineColor: line.color,
              topColor: `${line.color}10`,
              bottomColor: `${line.color}55`,
              invertFilledArea: true,
              lineWidth: 2,
              priceFormat: fmt,
              title: line.name,
            })
          : chart.addSeries(lc.LineSeries, { color: line.color, lineWidth: 2, priceFormat: fmt, title: line.name });
        series.setData(dedupe(line.points));
      }
      chart.timeScale().fitContent();
      el.dataset.ready = "1";
      const off = onThemeChange(() => chart.applyOptions(baseOptions()));
      cleanup = () => {
        off();
        chart.remove();
      };
    });
    return () => {
      disposed = true;
      cleanup();
    };
  }, [lines, height]);
  return (
    <div>
      <div ref={ref} role="img" aria-label={label} style={{ height }} className="w-full" data-chart="line" />
      <ul className="mt-2 flex flex-wrap gap-3 text-xs" aria-label="Legend">
        {lines.map((l) => (
          <li key={l.name} className="flex items-center gap-1">
            <span aria-hidden className="inline-block h-2 w-4 rounded" style={{ background: l.color }} />
            {l.name}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Strictly increasing times, as the library requires (last value of a day wins). */
function dedupe(points: { time: string; value: number }[]) {
  const byTime = new Map<string, number>();
  for (const p of points) if (Number.isFinite(p.value)) byTime.set(p.time, p.value);
  return [...byTime.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([time, value]) => ({ time, value }));
}
