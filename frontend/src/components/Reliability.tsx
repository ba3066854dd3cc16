// A reliability chart (predicted P(win) against the observed win rate per bin) drawn as SVG: a handful of
// points needs no chart library.
export interface Bin {
  p_mean: number;
  win_rate: number;
  n: number;
}

export default function Reliability({ bins }: { bins: Bin[] }) {
  const W = 320;
  const H = 240;
  const pad = 32;
  const lo = Math.min(0.3, ...bins.map((b) => Math.min(b.p_mean, b.win_rate)));
  const hi = Math.max(0.7, ...bins.map((b) => Math.max(b.p_mean, b.win_rate)));
  const x = (v: number) => pad + ((v - lo) / (hi - lo)) * (W - 2 * pad);
  const y = (v: number) => H - pad - ((v - lo) / (hi - lo)) * (H - 2 * pad);
  const ticks = [lo, (lo + hi) / 2, hi];
  return (
    <figure>
      <svg viewBox={`0 0 ${W} ${H}`} className="w-full max-w-sm" role="img" aria-label="Reliability chart: predicted probability of a win against the observed win rate">
        <line x1={x(lo)} y1={y(lo)} x2={x(hi)} y2={y(hi)} stroke="currentColor" strokeOpacity={0.3} strokeDasharray="4 4" />
        <line x1={pad} y1={H - pad} x2={W - pad} y2={H - pad} stroke="currentColor" strokeOpacity={0.4} />
        <line x1={pad} y1={pad} x2={pad} y2={H - pad} stroke="currentColor" strokeOpacity={0.4} />
        {ticks.map((t) => (
          <g key={t} fontSize={10} fill="currentColor" fillOpacity={0.7}>
            <text x={x(t)} y={H - pad + 14} textAnchor="middle">{(t * 100).toFixed(0)}%</text>
            <text x={pad - 4} y={y(t) + 3} textAnchor="end">{(t * 100).toFixed(0)}%</text>
          </g>
        ))}
        <polyline fill="none" stroke="#0ea5e9" strokeWidth={2} points={bins.map((b) => `${x(b.p_mean)},${y(b.win_rate)}`).join(" ")} />
        {bins.map((b, i) => (
          <circle key={i} cx={x(b.p_mean)} cy={y(b.win_rate)} r={3 + Math.min(5, Math.sqrt(b.n) / 10)} fill="#0ea5e9">
            <title>{`predicted ${(b.p_mean * 100).toFixed(1)}%, observed ${(b.win_rate * 100).toFixed(1)}% (${b.n} rows)`}</title>
          </circle>
        ))}
        <text x={W / 2} y={H - 4} textAnchor="middle" fontSize={10} fill="currentColor">predicted P(win)</text>
        <text x={10} y={H / 2} textAnchor="middle" fontSize={10} fill="currentColor" transform={`rotate(-90 10 ${H / 2})`}>observed win rate</text>
      </svg>
      <figcaption className="text-xs text-slate-500">On the dashed diagonal the confidence means what it says.</figcaption>
    </figure>
  );
}
