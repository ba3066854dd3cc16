"use client";
import { useEffect, useState } from "react";
import { Async } from "@/components/Async";
import { Badge, Card, Empty, ErrorBox, PageTitle, Table, Td, Th } from "@/components/ui";
import { api, ApiError, explain, getApiKey, setApiKey, type Page } from "@/lib/api";
import { restartLive } from "@/lib/events";
import { etDateTime } from "@/lib/format";
import { useData } from "@/lib/hooks";
import { useRiskSettings } from "@/lib/risk";
import type { Attempt, Delivery, Subscription } from "@/lib/types";

export default function SettingsPage() {
  return (
    <>
      <PageTitle sub="Your API key, notification subscriptions and the risk settings in force">Settings</PageTitle>
      <div className="grid grid-cols-1 gap-4">
        <Card title="API key" id="api-key">
          <ApiKeyForm />
        </Card>
        <Card title="Notification subscriptions" id="subscriptions">
          <Subscriptions />
        </Card>
        <Card title="Failed deliveries" id="deliveries">
          <Deliveries />
        </Card>
        <Card title="Risk settings in force (read-only)" id="risk-settings">
          <RiskSettingsView />
        </Card>
      </div>
    </>
  );
}

function ApiKeyForm() {
  const [key, setKey] = useState("");
  const [saved, setSaved] = useState<string | null>(null);
  const [check, setCheck] = useState<string | null>(null);
  useEffect(() => setSaved(getApiKey()), []);
  const test = async () => {
    try {
      await api("/signals?limit=1");
      setCheck(getApiKey() ? "The key reads the API." : "Reads work without a key (public read is on).");
    } catch (e) {
      setCheck(explain(e));
    }
  };
  return (
    <div className="space-y-2 text-sm">
      <p>
        The dashboard sends this key as <code>Authorization: Bearer …</code>. Create one with{" "}
        <code>tft-trader apikey create dashboard --scope write</code> (a read key is enough to browse; adding
        subscriptions, test sends and backtests need a write key). It is kept in this browser only (localStorage).
      </p>
      <p>
        Current: {saved ? <code>{saved.slice(0, 10)}…</code> : <span className="text-slate-500">none (reads work only when the server allows public reads)</span>}
      </p>
      <form
        className="flex flex-wrap items-center gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          setApiKey(key || null);
          setSaved(getApiKey());
          setKey("");
          restartLive();
          void test();
        }}
      >
        <label htmlFor="api-key-input" className="sr-only">API key</label>
        <input
          id="api-key-input"
          type="password"
          autoComplete="off"
          value={key}
          onChange={(e) => setKey(e.target.value)}
          placeholder="tft_…"
          className="w-72 max-w-full rounded border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700"
        />
        <button type="submit" className="rounded bg-sky-700 px-3 py-1 text-white">Save</button>
        {saved && (
          <button type="button" className="underline" onClick={() => { setApiKey(null); setSaved(null); restartLive(); void test(); }}>
            Forget the key
          </button>
        )}
        <button type="button" className="underline" onClick={() => void test()}>Test</button>
      </form>
      {check && <p role="status">{check}</p>}
    </div>
  );
}

function Subscriptions() {
  const subs = useData("subscriptions", () => api<Page<Subscription>>("/notifications/subscriptions?limit=100"));
  const [channel, setChannel] = useState<"email" | "webhook">("email");
  const [target, setTarget] = useState("");
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const act = async (what: () => Promise<string>) => {
    setBusy(true);
    setError(null);
    setMessage(null);
    try {
      setMessage(await what());
      subs.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const add = () =>
    act(async () => {
      const created = await api<Subscription>("/notifications/subscriptions", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ channel, target: target.trim() }),
      });
      setTarget("");
      return created.secret
        ? `Added. The webhook signing secret, shown this once: ${created.secret}`
        : `Added subscription ${created.id}.`;
    });
  const remove = (s: Subscription) =>
    act(async () => {
      await api(`/notifications/subscriptions/${s.id}`, { method: "DELETE" });
      return `Removed subscription ${s.id} (${s.target}).`;
    });
  const sendTest = (s: Subscription) =>
    act(async () => {
      const attempts = await api<Attempt[]>(`/notifications/subscriptions/${s.id}/test`, { method: "POST" });
      const a = attempts[0];
      if (!a) return `Test to ${s.target}: nothing was sent.`;
      return `Test to ${a.target}: ${a.status}${a.error ? ` (${a.error})` : a.code ? ` (${a.code})` : ""}.`;
    });

  return (
    <div className="space-y-3 text-sm">
      <Async state={subs} what="subscriptions" missing="This server has no /api/v1/notifications endpoints yet: use `tft-trader notify add` / `notify list`.">
        {(p) =>
          p.items.length === 0 ? (
            <Empty>No subscription: nobody is told about signals. Add an email address or a webhook URL below.</Empty>
          ) : (
            <Table caption="Notification subscriptions">
              <thead>
                <tr><Th>Channel</Th><Th>Target</Th><Th>Events</Th><Th>State</Th><Th>Added</Th><Th /></tr>
              </thead>
              <tbody>
                {p.items.map((s) => (
                  <tr key={s.id} data-subscription={s.id}>
                    <Td>{s.channel}</Td>
                    <Td className="max-w-xs truncate">{s.target}</Td>
                    <Td className="whitespace-normal">{s.events.length ? s.events.join(", ") : "all"}</Td>
                    <Td>{s.active ? <Badge tone="green">active</Badge> : <Badge tone="red">disabled{s.disabled_reason ? `: ${s.disabled_reason}` : ""}</Badge>}</Td>
                    <Td>{etDateTime(s.created_at)}</Td>
                    <Td>
                      <div className="flex gap-2">
                        <button type="button" disabled={busy} className="underline" onClick={() => void sendTest(s)}>
                          Send test<span className="sr-only"> to {s.target}</span>
                        </button>
                        <button type="button" disabled={busy} className="text-rose-700 underline dark:text-rose-400" onClick={() => void remove(s)}>
                          Remove<span className="sr-only"> {s.target}</span>
                        </button>
                      </div>
                    </Td>
                  </tr>
                ))}
              </tbody>
            </Table>
          )
        }
      </Async>
      <form
        className="flex flex-wrap items-end gap-2"
        aria-label="Add a subscription"
        onSubmit={(e) => {
          e.preventDefault();
          void add();
        }}
      >
        <label className="flex flex-col">
          <span className="text-xs uppercase tracking-wide text-slate-500">Channel</span>
          <select value={channel} onChange={(e) => setChannel(e.target.value as "email" | "webhook")}
            className="rounded border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700">
            <option value="email">email</option>
            <option value="webhook">webhook</option>
          </select>
        </label>
        <label className="flex flex-col">
          <span className="text-xs uppercase tracking-wide text-slate-500">{channel === "email" ? "Address" : "HTTPS URL"}</span>
          <input required value={target} onChange={(e) => setTarget(e.target.value)}
            type={channel === "email" ? "email" : "url"}
            placeholder={channel === "email" ? "you@example.com" : "https://example.com/hook"}
            className="w-72 max-w-full rounded border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700" />
        </label>
        <button type="submit" disabled={busy} className="rounded bg-sky-700 px-3 py-1 text-white disabled:opacity-50">Add</button>
      </form>
      <p className="text-xs text-slate-500">A new subscription gets every event: new signals, closed trades, the daily candidates digest, halts, pipeline failures and a model losing its trust. Writes need a write key (above).</p>
      {message && <p role="status" className="break-all">{message}</p>}
      {error !== null && (error instanceof ApiError || error instanceof Error) && <ErrorBox error={error} />}
    </div>
  );
}

function Deliveries() {
  const state = useData("deliveries-failed-all", () => api<Page<Delivery>>("/notifications/deliveries?failed=true&limit=50"));
  return (
    <Async state={state} what="deliveries" missing="This server has no deliveries endpoint yet: `tft-trader notify deliveries --failed`.">
      {(p) =>
        p.items.length === 0 ? (
          <Empty>No failed delivery: every notification went out (or none was due).</Empty>
        ) : (
          <Table caption="Failed notification deliveries">
            <thead>
              <tr><Th>Event</Th><Th>To</Th><Th right>Attempts</Th><Th>Last error</Th><Th>When</Th></tr>
            </thead>
            <tbody>
              {p.items.map((d) => (
                <tr key={d.id}>
                  <Td>{d.event_type}</Td>
                  <Td className="max-w-xs truncate">{d.channel} {d.target}</Td>
                  <Td right>{d.attempts}</Td>
                  <Td className="whitespace-normal">{d.last_error ?? d.last_reply ?? (d.last_code ? `HTTP ${d.last_code}` : "—")}</Td>
                  <Td>{etDateTime(d.updated_at)}</Td>
                </tr>
              ))}
            </tbody>
          </Table>
        )
      }
    </Async>
  );
}

const PERCENT_KEYS = /pct$|_pct_|confidence|probability|score$/;

function RiskSettingsView() {
  const risk = useRiskSettings();
  return (
    <Async state={risk} what="risk settings" missing="This server has no /api/v1/settings/risk endpoint yet: update TFT Trader.">
      {(r) => (
        <dl className="grid grid-cols-1 gap-x-6 gap-y-1 text-sm sm:grid-cols-2 lg:grid-cols-3" data-risk-settings>
          {Object.entries(r)
            .filter(([, v]) => v === null || ["number", "string", "boolean"].includes(typeof v))
            .map(([k, v]) => (
              <div key={k} className="flex justify-between gap-2 border-b border-slate-100 py-1 dark:border-slate-800">
                <dt className="text-slate-500">{k.replaceAll("_", " ")}</dt>
                <dd className="font-medium">
                  {typeof v === "number" && PERCENT_KEYS.test(k) && v <= 1 ? `${+(v * 100).toFixed(2)}%` : v === null ? "off" : String(v)}
                </dd>
              </div>
            ))}
        </dl>
      )}
    </Async>
  );
}
