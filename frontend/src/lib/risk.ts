"use client";
import { api } from "./api";
import { useData } from "./hooks";

export type RiskSettings = Record<string, unknown> & { max_drawdown_pct?: number };

/** The risk settings in force (`GET /api/v1/settings/risk`); null while loading or on an older server. */
export function useRiskSettings() {
  return useData("settings/risk", () => api<RiskSettings>("/settings/risk"), false);
}
