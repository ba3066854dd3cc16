"use client";
// Colours for lightweight-charts in the current theme (it draws on canvas, so Tailwind classes can't reach it).

export function isDark(): boolean {
  return typeof document !== "undefined" && document.documentElement.classList.contains("dark");
}

export function chartColors() {
  const dark = isDark();
  return {
    text: dark ? "#cbd5e1" : "#334155",
    grid: dark ? "#1e293b" : "#e2e8f0",
    bg: dark ? "#0f172a" : "#ffffff",
    up: "#10b981",
    down: "#f43f5e",
  };
}

export function baseOptions() {
  const c = chartColors();
  return {
    autoSize: true,
    layout: {
      background: { color: c.bg },
      textColor: c.text,
      attributionLogo: false,
      fontFamily: "ui-sans-serif, system-ui, sans-serif",
    },
    grid: { vertLines: { color: c.grid }, horzLines: { color: c.grid } },
    rightPriceScale: { borderColor: c.grid },
    timeScale: { borderColor: c.grid },
  };
}

/** Re-apply colours when the user switches theme. */
export function onThemeChange(apply: () => void): () => void {
  window.addEventListener("tft-theme", apply);
  return () => window.removeEventListener("tft-theme", apply);
}
