// Response shapes of /api/v1 (backend/*/schemas.py; the OpenAPI document at /api/v1/openapi.json).

export interface Signal {
  id: number;
  ticker: string;
  trade_date: string;
  signal: string;
  status: string;
  confidence: number;
  entry_price: number;
  stop_price: number | null;
  target_price: number | null;
  stop_pct: number | null;
  target_pct: number | null;
  risk_reward: number | null;
  position_size_pct: number;
  shares: number;
  sector: string | null;
  model_version: string | null;
  generated_at: string;
  expires_at: string;
  fill_price: number | null;
  filled_at: string | null;
  closed_at: string | null;
  exit_price: number | null;
  exit_reason: string | null;
  pnl: number | null;
  return_pct: number | null;
  expected_value?: number | null;
}

export interface SignalDetail extends Signal {
  explanation: Record<string, unknown>;
  indicators: Record<string, number | null>;
  sentiment: Record<string, number | null>;
  risk: { approved: boolean; reasons: string[]; messages: string[] };
}

/** A ranked candidate of a session and why it is or is not a signal (`daily_candidates`). */
export interface Candidate {
  trade_date?: string;
  ticker: string;
  rank: number;
  call: string;
  confidence: number;
  expected_value: number | null;
  entry_price: number | null;
  stop_price: number | null;
  target_price: number | null;
  is_signal: boolean;
  reasons: string[];
  why: string;
  drivers?: Driver[];
  model_version?: string | null;
  model_trusted?: boolean;
}

export interface Driver {
  feature?: string;
  name?: string;
  value?: number | null;
  contribution?: number | null;
  impact?: number | null;
  [k: string]: unknown;
}

export interface CandidatesPage {
  items: Candidate[];
  next_cursor: string | null;
  trade_date: string | null;
  portfolio: string;
  model_version: string | null;
  model_trusted: boolean | null;
  n_signals: number;
}

export interface PortfolioSummary {
  currency: string;
  as_of: string | null;
  starting_capital: number;
  cash: number;
  equity: number;
  positions_value: number;
  realized_pnl: number;
  unrealized_pnl: number;
  total_pnl: number;
  today_pnl: number | null;
  peak_equity: number;
  drawdown: number;
  max_drawdown: number;
  kill_switch: boolean;
  kill_switch_reason: string | null;
  n_positions: number;
  n_pending: number;
}

export interface Position {
  ticker: string;
  shares: number;
  signal_date: string | null;
  entry_date: string;
  fill_price: number;
  last_price: number;
  stop_price: number;
  target_price: number;
  cost_basis: number;
  market_value: number;
  unrealized_pnl: number;
  unrealized_pct: number;
  exit_order: string | null;
}

export interface Trade {
  id: number;
  ticker: string;
  signal_date: string | null;
  shares: number;
  entry_date: string;
  entry_fill: number;
  exit_date: string;
  exit_price: number;
  exit_fill: number;
  exit_reason: string;
  cost_basis: number;
  proceeds: number;
  pnl: number;
  return_pct: number;
}

export interface EquityPoint {
  trade_date: string;
  cash: number;
  positions_value: number;
  equity: number;
  n_positions: number;
}

export interface Metrics {
  currency: string;
  as_of: string | null;
  performance: Record<string, unknown> | null;
}

export interface PriceBar {
  trade_date: string;
  open: number;
  high: number;
  low: number;
  close: number;
  adj_close: number;
  volume: number;
  rsi_14: number | null;
  macd: number | null;
  macd_signal: number | null;
  macd_hist: number | null;
  bb_upper: number | null;
  bb_middle: number | null;
  bb_lower: number | null;
  sma_50: number | null;
  sma_200: number | null;
}

export interface TickerDetail {
  symbol: string;
  name: string | null;
  sector: string | null;
  industry: string | null;
  exchange: string | null;
  active: boolean;
  source: string;
  watchlist: boolean;
  latest_bar: PriceBar | null;
  bars_stored: number;
}

export interface TickerRow {
  symbol: string;
  name: string | null;
  sector: string | null;
}

export interface SentimentDay {
  trade_date: string;
  mentions: number;
  score: number;
  bullish: number;
  bearish: number;
  neutral: number;
  score_ma5: number;
  trend: number;
  conviction: boolean;
  trending_rank: number;
  synthetic: boolean;
}

export interface Trending {
  rank: number;
  ticker: string;
  mentions: number;
  sentiment?: number | null;
  change?: number | null;
  synthetic?: boolean;
  [k: string]: unknown;
}

export interface ModelRow {
  id: number;
  version: string;
  is_active: boolean;
  members: string[];
  weights: Record<string, number>;
  feature_set_version: string;
  train_start: string;
  train_end: string;
  as_of: string;
  n_samples: number;
  oos_score: number;
  created_at: string;
  trusted?: boolean | null;
}

export interface ModelDetail extends ModelRow {
  class_balance: Record<string, unknown>;
  metrics: Record<string, unknown>;
  calibration: Record<string, unknown>;
  promotion: Record<string, unknown>;
  notes: string[];
  feature_columns: string[];
  tickers: string[];
}

export interface BacktestRun {
  id: number;
  status: string;
  start_date: string;
  end_date: string;
  tickers: string[];
  retrain_every: number;
  error: string | null;
  created_at: string;
  finished_at: string | null;
}

export interface BookMetrics {
  total_return: number | null;
  cagr: number | null;
  sharpe: number | null;
  sortino: number | null;
  calmar: number | null;
  max_drawdown: number | null;
  win_rate: number | null;
  n_trades: number | null;
  avg_trade_return: number | null;
  profit_factor: number | null;
  exposure: number | null;
  end_equity: number | null;
}

export interface BacktestDetail extends BacktestRun {
  settings: Record<string, unknown>;
  /** strategy, rsi_mean_reversion, macd_momentum (the rule baselines), buy_and_hold */
  metrics: Record<string, BookMetrics>;
  equity_curves: Record<string, { trade_date: string; equity: number }[]>;
  caveats: string[];
  results: Record<string, unknown> | null;
}

export interface Attempt {
  delivery_id: number;
  subscription_id: number;
  channel: string;
  target: string;
  event_type: string;
  status: string;
  attempts: number;
  code: number | null;
  reply: string | null;
  error: string | null;
  next_attempt_at: string | null;
}

export interface Health {
  status: string;
  version: string;
  database: { ok: boolean; error?: string | null };
  redis: { ok: boolean; error?: string | null };
  active_model: {
    version: string;
    as_of: string;
    oos_score: number;
    trusted: boolean;
    untrusted_reasons: string[];
  } | null;
  last_runs: PipelineRun[];
}

export interface PipelineRun {
  id: number;
  task: string;
  trading_date: string;
  status: string;
  started_at: string;
  finished_at: string | null;
  error: string | null;
  counts?: Record<string, unknown>;
  attempts?: number;
}

export interface Subscription {
  id: number;
  channel: "email" | "webhook";
  target: string;
  events: string[];
  active: boolean;
  disabled_reason: string | null;
  created_at: string;
  secret?: string | null;
}

export interface Delivery {
  id: number;
  event_id: number;
  event_type: string;
  subscription_id: number;
  channel: string;
  target: string;
  status: string;
  attempts: number;
  last_code: number | null;
  last_reply: string | null;
  last_error: string | null;
  next_attempt_at: string | null;
  sent_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface QualityFlag {
  ticker?: string;
  trade_date: string;
  kind: string;
  detail: string;
  excluded: boolean;
}
