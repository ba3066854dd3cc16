"use client";
// The Ticker page's chart: candles with SMA 50/200 and Bollinger Bands, volume under the candles, RSI and
// MACD in their own panes, entries and exits as markers. lightweight-charts v5 is imported inside the effect
// (it touches `navigator`, which static rendering doesn't have) and the chart is removed on unmount.

import { useEffect, useRef } from "react";
import type { PriceBar } from "@/lib/types";
import { baseOptions, chartColors, onThemeChange } from "./chartTheme";

export interface TradeMarker {
  time: string;
  kind: "entry" | "exit" | "signal";
  text: string;
}

export default function PriceChart({ bars, markers }: { bars: PriceBar[]; markers: TradeMarker[] }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el || bars.length === 0) return;
    let disposed = false;
    let cleanup = () => {};
    void import("lightweight-charts").then((lc) => {
      if (disposed) return;
      const c = chartColors();
      const chart = lc.createChart(el, { ...baseOptions(), height: 640 });
      const candles = chart.addSeries(lc.CandlestickSeries, {
        upColor: c.up,
        downColor: c.down,
        borderVisible: false,
        wickUpColor: c.up,
        wickDownColor: c.down,
      });
      candles.setData(bars.map((b) => ({ time: b.trade_date, open: b.open, high: b.high, low: b.low, close: b.close })));
      const line = (color: string, key: keyof PriceBar, title: string, pane = 0, dashed = false) => {
        const s = chart.addSeries(
          lc.LineSeries,
          {
            color,
            lineWidth: 1,
            title,
            lineStyle: dashed ? lc.LineStyle.Dashed : lc.LineStyle.Solid,
            priceLineVisible: false,
            lastValueVisible: false,
          },
          pane,
        );
        s.setData(
          bars.filter((b) => b[key] !== null && b[key] !== undefined).map((b) => ({ time: b.trade_date, value: b[key] as number })),
        );
        return s;
      };
      line("#f59e0b", "sma_50", "SMA 50");
      line("#8b5cf6", "sma_200", "SMA 200");
      line("#94a3b8", "bb_upper", "BB upper", 0, true);
      line("#94a3b8", "bb_lower", "BB lower", 0, true);

      const volume = chart.addSeries(lc.HistogramSeries, {
        priceFormat: { type: "volume" },
        priceScaleId: "volume",
        lastValueVisible: false,
        priceLineVisible: false,
      });
      volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
      volume.setData(
        bars.map((b) => ({
          time: b.trade_date,
          value: b.volume,
          color: b.close >= b.open ? `${c.up}66` : `${c.down}66`,
        })),
      );

      const rsi = line("#0ea5e9", "rsi_14", "RSI 14", 1);
      rsi.createPriceLine({ price: 70, color: "#f43f5e", lineWidth: 1, lineStyle: lc.LineStyle.Dotted, axisLabelVisible: true, title: "" });
      rsi.createPriceLine({ price: 30, color: "#10b981", lineWidth: 1, lineStyle: lc.LineStyle.Dotted, axisLabelVisible: true, title: "" });

      const hist = chart.addSeries(lc.HistogramSeries, { priceLineVisible: false, lastValueVisible: false, title: "MACD hist" }, 2);
      hist.setData(
        bars
          .filter((b) => b.macd_hist !== null)
          .map((b) => ({ time: b.trade_date, value: b.macd_hist as number, color: (b.macd_hist as number) >= 0 ? `${c.up}99` : `${c.down}99` })),
      );
      line("#0ea5e9", "macd", "MACD", 2);
      line("#f59e0b", "macd_signal", "signal", 2);

      // Share of the height per pane: candles and volume, RSI, MACD.
      const panes = chart.panes();
      panes[0]?.setStretchFactor(0.6);
      panes[1]?.setStretchFactor(0.18);
      panes[2]?.setStretchFactor(0.22);

      const known = new Set(bars.map((b) => b.trade_date));
      lc.createSeriesMarkers(
        candles,
        markers
          .filter((m) => known.has(m.time))
          .sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0))
          .map((m) => ({
            time: m.time,
            position: m.kind === "exit" ? ("aboveBar" as const) : ("belowBar" as const),
            shape: m.kind === "exit" ? ("arrowDown" as const) : m.kind === "entry" ? ("arrowUp" as const) : ("circle" as const),
            color: m.kind === "exit" ? "#f43f5e" : m.kind === "entry" ? "#10b981" : "#0ea5e9",
            text: m.text,
          })),
      );
      // Show the last year; the whole history is a scroll or pinch away.
      const from = bars[Math.max(0, bars.length - 252)].trade_date;
      chart.timeScale().setVisibleRange({ from, to: bars[bars.length - 1].trade_date });
      el.dataset.ready = "1";
      (window as unknown as { __tftChartReady?: number }).__tftChartReady = performance.now();
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
  }, [bars, markers]);
  return (
    <div
      ref={ref}
      role="img"
      aria-label="Price chart: candles with SMA 50/200 and Bollinger Bands, volume, RSI and MACD panes; entries and exits marked"
      className="w-full"
      style={{ height: 640 }}
      data-chart="price"
    />
  );
}
