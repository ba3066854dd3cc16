// Reading a model version's trust verdict out of its registry record. The edge test (backend/ml/edge.py)
// stores `trusted` and `untrusted_reasons`; older records keep them under `metrics.edge` or `promotion`.

type Rec = Record<string, unknown>;

function find(obj: unknown, key: string, depth = 0): unknown {
  if (!obj || typeof obj !== "object" || depth > 3) return undefined;
  const o = obj as Rec;
  if (key in o) return o[key];
  for (const v of Object.values(o)) {
    const hit = find(v, key, depth + 1);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

export interface Trust {
  trusted: boolean | null;
  reasons: string[];
}

export function modelTrust(model: { trusted?: boolean | null; metrics?: unknown; promotion?: unknown } | null | undefined): Trust {
  if (!model) return { trusted: null, reasons: [] };
  const t = model.trusted ?? find(model.metrics, "trusted") ?? find(model.promotion, "trusted");
  const reasons = find(model.metrics, "untrusted_reasons") ?? find(model.metrics, "reasons") ?? [];
  return {
    trusted: typeof t === "boolean" ? t : null,
    reasons: Array.isArray(reasons) ? reasons.map(String) : [],
  };
}

export { find as findKey };
