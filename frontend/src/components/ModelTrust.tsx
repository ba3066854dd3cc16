"use client";
import Link from "next/link";
import { api } from "@/lib/api";
import { useData } from "@/lib/hooks";
import { modelTrust } from "@/lib/model";
import { useRiskSettings } from "@/lib/risk";
import type { Health, ModelDetail } from "@/lib/types";
import { Async } from "./Async";
import { Badge } from "./ui";

/** Whether the active model may make signals, and why not: the first thing a user must know. */
export default function ModelTrust() {
  const model = useData("models/active", () => api<ModelDetail>("/models/active"));
  const health = useData("health", () => api<Health>("/health"));
  const risk = useRiskSettings();
  const gateOff = risk.data?.require_trusted_model === false;
  return (
    <Async
      state={model}
      what="the active model"
      missing={
        <>
          No trained model yet: nothing is predicted. Train one with <code>tft-trader train</code> (or run{" "}
          <code>tft-trader demo</code>).
        </>
      }
    >
      {(m) => {
        const own = modelTrust(m);
        const h = health.data?.active_model?.version === m.version ? health.data.active_model : null;
        const trusted = h ? h.trusted : own.trusted;
        const reasons = h?.untrusted_reasons?.length ? h.untrusted_reasons : own.reasons;
        return (
          <div data-model-trust={trusted === null ? "unknown" : trusted ? "trusted" : "untrusted"}>
            <p className="flex flex-wrap items-center gap-2">
              Active model{" "}
              <Link href="/models/" className="font-mono text-sky-700 underline dark:text-sky-400">
                {m.version}
              </Link>
              {trusted === true && <Badge tone="green">trusted: an out-of-sample edge was shown</Badge>}
              {trusted === false && !gateOff && (
                <Badge tone="amber">NOT trusted: it ranks candidates but makes no signals</Badge>
              )}
              {trusted === false && gateOff && (
                <Badge tone="red">NOT trusted, and RISK__REQUIRE_TRUSTED_MODEL is off: its calls can become signals</Badge>
              )}
              {trusted === null && <Badge>trust unknown</Badge>}
            </p>
            {trusted === false && reasons.length > 0 && (
              <ul className="mt-1 list-disc pl-5 text-sm text-slate-600 dark:text-slate-400">
                {reasons.map((r) => (
                  <li key={r}>{r}</li>
                ))}
              </ul>
            )}
            <p className="mt-1 text-xs text-slate-500">
              Data known at {m.as_of}; trained on {m.train_start} – {m.train_end} ({m.n_samples.toLocaleString()} rows).
            </p>
          </div>
        );
      }}
    </Async>
  );
}
