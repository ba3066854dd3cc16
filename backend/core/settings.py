"""Application settings: one root `Settings` of nested models, read from the environment and `.env`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path.home() / ".tft-trader"


def normalize_database_url(url: str) -> str:
    """Map the URLs that Railway/Render/users hand out onto our async drivers.

    `postgres://` and `postgresql://` (and `postgresql+psycopg2://`) become `postgresql+asyncpg://`;
    `sqlite:///` becomes `sqlite+aiosqlite:///`. asyncpg does not understand libpq's `sslmode`
    query parameter, so it is translated to asyncpg's `ssl`.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme in {"postgres", "postgresql"} or scheme.startswith("postgresql+"):
        query = [("ssl" if k == "sslmode" else k, v) for k, v in parse_qsl(parts.query)]
        return urlunsplit(("postgresql+asyncpg", parts.netloc, parts.path, urlencode(query), parts.fragment))
    if scheme in {"sqlite", "sqlite+aiosqlite", "sqlite+pysqlite"}:
        return "sqlite+aiosqlite://" + url.strip().split("://", 1)[1]
    raise ValueError(
        f"DATABASE_URL scheme {parts.scheme!r} is not supported: use postgresql://... or sqlite:///path.db"
    )


def normalize_redis_url(url: str) -> str:
    """Accept `redis://` and TLS `rediss://` URLs (Railway, Render, Upstash); reject anything else."""
    scheme = urlsplit(url.strip()).scheme.lower()
    if scheme not in {"redis", "rediss", "unix"}:
        raise ValueError(f"REDIS_URL scheme {scheme!r} is not supported: use redis://host:6379/0")
    return url.strip()


class MarketSettings(BaseModel):
    """Price ingestion."""

    # EMA/RSI smoothing depends on all history; 600 bars make the truncated computation equal to the
    # full-history one to ~1e-15, and cover SMA 200 three times over.
    indicator_lookback_bars: int = 600
    default_history_days: int = Field(default=5 * 365, description="calendar days fetched when no --start")
    yahoo_batch_size: int = 50
    yahoo_retries: int = 4
    yahoo_backoff_seconds: float = 2.0
    yahoo_timeout_seconds: float = 30.0


class PriceDataSettings(BaseModel):
    """Which sessions count as finished, and the data-quality check on every import and fetch."""

    # Yahoo's daily bar keeps changing for a while after the close (late prints, the closing auction).
    settle_minutes: int = Field(
        default=30, ge=0, description="after a session's close until its bar is final"
    )
    spike_pct: float = Field(
        default=0.15, gt=0, description="a one-day move this large that reverts is a spike"
    )


class UniverseSettings(BaseModel):
    """`tickers refresh`: the exchanges' published symbol directories (NASDAQ Trader)."""

    nasdaq_listed_url: str = "https://www.nasdaqtrader.com/dynamic/SymDir/nasdaqlisted.txt"
    other_listed_url: str = "https://www.nasdaqtrader.com/dynamic/SymDir/otherlisted.txt"
    timeout_seconds: float = 30.0
    # A refresh that would deactivate more than this share of the active universe is refused: a truncated
    # or wrong file must not delist half the market.
    max_deactivate_share: float = Field(default=0.1, gt=0.0, le=1.0)


class RedditSettings(BaseModel):
    """Reddit API (an OAuth "script" app, read-only). Secrets only from the environment."""

    client_id: str = ""
    client_secret: str = ""
    user_agent: str = "tft-trader/0.1 (self-hosted swing-trading signals)"
    subreddits: list[str] = ["wallstreetbets", "stocks", "investing"]
    posts_per_listing: int = 100
    max_requests_per_run: int = 300
    requests_per_minute: int = 90  # Reddit allows about 100 per client id
    max_backoff_seconds: float = 300.0


class SentimentSettings(BaseModel):
    """Scoring and daily aggregation."""

    # Label thresholds are measured constants of the scorer (backend/sentiment/scoring.py), not settings.
    max_chars_scored: int = 5000
    conviction_min_mentions: int = 10
    trending_top_n: int = 20
    trending_window_hours: int = 24


class FeatureSettings(BaseModel):
    """Point-in-time features and labels."""

    version: str = "v2"  # must equal backend.features.build.FEATURE_SET_VERSION
    # The market-regime index: SPY (an S&P 500 ETF, fetchable like any ticker); the bundled S&P 500
    # history from `arch` stands in offline where SPY has no stored prices.
    market_index: str = "SPY"
    sequence_length: int = 30  # LSTM input window (trading days)


class RiskSettings(BaseModel):
    """The risk manager; the product's numbers are the defaults. Labels use the same barriers."""

    # The calibrated probability that the trade wins after costs (`ml.edge`); 0.70 is the spec's stricter bar.
    min_confidence: float = 0.60
    # An untrusted model (no out-of-sample edge) still predicts and ranks but makes no signals or trades.
    require_trusted_model: bool = True
    # SELL (exit a held position at the next open) when P(win) is at most this and the EV is negative.
    sell_max_probability: float = 0.40
    candidates_top_n: int = Field(default=20, ge=1)  # the day's ranked candidates kept per portfolio
    max_position_pct: float = 0.20
    risk_per_trade_pct: float = 0.02
    max_stop_pct: float = 0.05
    min_target_pct: float = 0.05
    max_target_pct: float = 0.10
    min_reward_risk: float = 2.0
    atr_stop_multiple: float = 2.0
    max_positions: int = 5
    max_drawdown_pct: float = 0.15
    max_hold_days: int = 7
    cooldown_days_after_stop: int = 5
    pause_after_stops: int = 3
    pause_window_days: int = 10
    max_sector_pct: float = 0.30
    min_avg_dollar_volume: float = 5_000_000.0
    regime_filter: Literal["off", "block", "raise_bar"] = "raise_bar"
    regime_min_confidence: float = 0.70
    starting_capital: float = 100_000.0
    commission_per_trade: float = 1.0
    slippage_bps: float = 5.0
    # Exit a held position at the next open when that day's Reddit mood is at least this bearish (the
    # scorer's bearish threshold) on enough mentions that one post cannot flip it.
    sentiment_exit_score: float = -0.20
    sentiment_exit_min_mentions: int = 3
    trailing_stop_pct: float | None = Field(default=None, gt=0.0, lt=1.0)  # e.g. 0.05; None = off


class BacktestSettings(BaseModel):
    """Historical replays."""

    # The LSTM is optional in replays: it would dominate the run time of a weekly retrain.
    members: list[str] = ["xgboost", "lightgbm"]
    retrain_every_days: int = Field(default=5, ge=1)  # trading days between retrains (weekly)


class DemoSettings(BaseModel):
    """`tft-trader demo`: how much of the bundled 505-stock history it replays, and how fast it trains.

    The demo must finish in minutes on a 2-core machine, so its models are smaller than production's
    (`ml`): fewer, shallower trees and a one-year training window; retraining every quarter. `DEMO__*`.
    """

    tickers: int | None = Field(default=None, ge=5)  # the first N tickers alphabetically; None = all 505
    replay_sessions: int = Field(default=504, ge=20)  # the last N sessions of the history (~2 years)
    retrain_every_days: int = Field(default=63, ge=1)  # sessions between retrains (a quarter)
    posts_per_ticker_day: float = Field(default=0.05, gt=0)  # synthetic Reddit posts per ticker and day
    build_dashboard: bool = True  # `npm ci && npm run build` in frontend/ when frontend/out is missing
    # The members' sizes for the demo's fits (merged into `ml` while the demo trains and replays).
    ml: dict[str, Any] = {
        "xgb_n_estimators": 40,
        "xgb_max_depth": 4,
        "lgbm_n_estimators": 40,
        "lgbm_num_leaves": 15,
        "max_train_days": 252,
        "walk_forward_splits": 3,
    }


class NotifySettings(BaseModel):
    """Email (SMTP) and webhook delivery. Secrets only from the environment (`NOTIFY__SMTP_PASSWORD`)."""

    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = ""
    # starttls: upgrade a plain connection (port 587); tls: implicit TLS from the start (port 465).
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    # Webhook targets on private, loopback or link-local addresses are refused unless this is set (a
    # receiver on your own LAN); the check runs when a URL is added and again at every connect.
    allow_private_webhooks: bool = False
    require_https: bool = True
    webhook_timeout_seconds: float = Field(default=15.0, gt=0)
    max_attempts: int = Field(default=10, ge=1)
    # Exponential backoff with equal jitter: ~1, 2, 4 ... minutes, capped, so 10 attempts span 4-8 hours.
    retry_base_seconds: float = Field(default=60.0, gt=0)
    retry_max_seconds: float = Field(default=4 * 3600.0, gt=0)
    secret_grace_hours: float = Field(default=24.0, ge=0)  # the old secret signs too after a rotation
    # How long a worker owns a claimed delivery; longer than one send can take (timeouts included).
    claim_seconds: float = Field(default=300.0, gt=0)
    batch_size: int = Field(default=100, ge=1)  # deliveries per sweep: a task stays well under an hour
    # Days an outbox event is kept once every delivery of it was sent; failed ones are kept until removed.
    retention_days: int = Field(default=30, ge=1)


class MLSettings(BaseModel):
    """Ensemble members, weights and training."""

    weight_lstm: float = 0.30
    weight_xgboost: float = 0.40
    weight_lightgbm: float = 0.30
    xgb_max_depth: int = 6
    xgb_learning_rate: float = 0.1
    xgb_n_estimators: int = 100
    lgbm_num_leaves: int = 31
    lgbm_learning_rate: float = 0.05
    lgbm_n_estimators: int = 200
    lstm_hidden: tuple[int, int] = (128, 64)
    lstm_epochs: int = 8
    lstm_batch_size: int = 256
    lstm_max_train_samples: int = 60_000
    seed: int = 42
    calibration: Literal["isotonic", "sigmoid", "none"] = "isotonic"
    embargo_days: int = 10  # >= the label horizon (max_hold_days + entry day)
    walk_forward_splits: int = 4
    validation_days: int = 63  # one quarter per out-of-sample fold
    calibration_days: int = 126
    min_train_days: int = 252
    # Sessions of history the members train on (the newest); None = all. Older regimes weigh less and a
    # 500-ticker replay retrains in a fraction of the time.
    max_train_days: int | None = 756
    retrain_every_days: int = 5
    max_model_age_days: int = 14


class TaskSettings(BaseModel):
    """Celery worker and beat (`celery -A backend.tasks worker` / `beat`)."""

    # Queue and Redis key prefix: two deployments (or test sessions) on one Redis stay apart.
    queue: str = "tft"
    price_provider: Literal["yahoo", "sample"] = "yahoo"  # sample: the bundled history, offline demos
    # A step waits this long for the step before it (same trading date), polling, then records `skipped`.
    step_wait_seconds: int = Field(default=90 * 60, ge=0)
    step_poll_seconds: int = Field(default=300, ge=1)
    # Transient errors (network, database restart) are retried with exponential backoff and jitter.
    max_retries: int = Field(default=5, ge=0)
    retry_backoff_max_seconds: int = 600
    # Redis redelivers an unacknowledged task after this; it must exceed the longest task (retraining's
    # hard limit) and every retry countdown, or a running task would be started twice.
    visibility_timeout_seconds: int = 6 * 3600
    beat_lock_timeout_seconds: int = 60  # a second beat takes over this long after the first dies
    # A beat that was down catches up a missed cron run only within this window, and only once.
    beat_cron_starting_deadline_seconds: int = 3600
    batch_size: int = Field(default=50, ge=1)  # tickers per scale-out batch
    metrics_port: int = 0  # worker Prometheus exporter port; 0 = off
    json_logs: bool = False


class ApiSettings(BaseModel):
    """The REST API (`tft-trader serve`): keys, who may read, CORS, limits. `API__FIELD` variables."""

    # Reads without a key; meant for the local demo bound to 127.0.0.1. Writes always need a write key.
    public_read: bool = False
    # The server secret API keys are hashed with (HMAC-SHA256). Unset: a random one is generated once and
    # kept in `data_dir/api_key_pepper` (never in the database, so a leaked dump cannot check guesses).
    key_pepper: str = ""
    cors_origins: list[str] = []
    # Proxies whose X-Forwarded-For / -Proto uvicorn believes (comma-separated IPs, or "*").
    forwarded_allow_ips: str = "127.0.0.1"
    rate_limit_per_minute: int = Field(default=600, ge=1)  # per API key
    anonymous_rate_limit_per_minute: int = Field(default=120, ge=1)  # per client IP, requests without a key
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    redis_timeout_seconds: float = Field(default=0.5, gt=0)
    sse_heartbeat_seconds: float = Field(default=15.0, gt=0)
    # `GET /metrics` (Prometheus) needs `Authorization: Bearer <token>` when set; open when empty.
    metrics_token: SecretStr = SecretStr("")
    # Answers of the hot read endpoints kept in memory until PostgreSQL reports a committed write
    # (backend/api/cache.py). Needs PostgreSQL's NOTIFY: on SQLite every request reads the database.
    response_cache: bool = True
    response_cache_entries: int = Field(default=1024, ge=1)
    response_cache_max_age_seconds: float = Field(default=300.0, gt=0)
    response_cache_max_bytes: int = Field(default=64 * 2**20, ge=2**20)
    # The built dashboard (Next.js static export); served at / when the folder exists.
    static_dir: Path = Path(__file__).resolve().parents[2] / "frontend" / "out"


class Settings(BaseSettings):
    """Root settings. Nested groups read `GROUP__FIELD` variables, e.g. `MARKET__YAHOO_RETRIES=6`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", env_nested_delimiter="__", extra="ignore"
    )

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    redis_url: str = "redis://127.0.0.1:6379/0"
    log_level: str = "INFO"
    sql_echo: bool = False
    public_url: str = ""  # the dashboard's address, for links in notifications (e.g. https://trader.example)

    market: MarketSettings = MarketSettings()
    prices: PriceDataSettings = PriceDataSettings()
    universe: UniverseSettings = UniverseSettings()
    reddit: RedditSettings = RedditSettings()
    sentiment: SentimentSettings = SentimentSettings()
    features: FeatureSettings = FeatureSettings()
    risk: RiskSettings = RiskSettings()
    ml: MLSettings = MLSettings()
    backtest: BacktestSettings = BacktestSettings()
    demo: DemoSettings = DemoSettings()
    notify: NotifySettings = NotifySettings()
    tasks: TaskSettings = TaskSettings()
    sentry_dsn: str = ""  # errors of the API, worker and beat go to Sentry when set
    api: ApiSettings = ApiSettings()

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalize_database_url(value) if value else value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        return normalize_redis_url(value)

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or the embedded default: a SQLite file in `data_dir`."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'tft_trader.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def _cached_settings() -> Settings:
    return Settings()


_override: list[Settings] = []


def get_settings() -> Settings:
    """The active settings: an override from `override_settings`, else the environment's."""
    return _override[-1] if _override else _cached_settings()


@contextmanager
def override_settings(**changes: Any) -> Iterator[Settings]:
    """Temporarily replace settings fields (tests, CLI flags) without touching globals for good."""
    current = get_settings()
    data = current.model_dump()
    for key, value in changes.items():
        # A dict for a nested group changes only the fields it names: override_settings(ml={"seed": 1}).
        data[key] = (
            {**data[key], **value} if isinstance(value, dict) and isinstance(data.get(key), dict) else value
        )
    # Validating again applies URL normalisation and type checks to the overridden values too.
    updated = Settings.model_validate(data)
    _override.append(updated)
    try:
        yield updated
    finally:
        _override.pop()
