import pytest

from backend.core.settings import Settings, get_settings, normalize_database_url, override_settings


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgres://u:p@db.railway.internal:5432/railway",
            "postgresql+asyncpg://u:p@db.railway.internal:5432/railway",
        ),
        ("postgresql://u:p@host/db", "postgresql+asyncpg://u:p@host/db"),
        ("postgresql+psycopg2://u@host/db", "postgresql+asyncpg://u@host/db"),
        (
            "postgresql://u@dpg-x.oregon-postgres.render.com/db?sslmode=require",
            "postgresql+asyncpg://u@dpg-x.oregon-postgres.render.com/db?ssl=require",
        ),
        ("sqlite:///data/tft.db", "sqlite+aiosqlite:///data/tft.db"),
        ("sqlite+aiosqlite:////abs/tft.db", "sqlite+aiosqlite:////abs/tft.db"),
    ],
)
def test_database_urls_from_hosting_providers_use_async_drivers(given, expected):
    assert normalize_database_url(given) == expected


def test_unsupported_database_url_names_the_problem():
    with pytest.raises(ValueError, match="mysql"):
        normalize_database_url("mysql://u@h/db")


def test_settings_read_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://a@b/c")
    monkeypatch.setenv("REDIS_URL", "rediss://default:pw@redis.example:6380")
    monkeypatch.setenv("MARKET__YAHOO_RETRIES", "7")
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.resolved_database_url == "postgresql+asyncpg://a@b/c"
    assert s.redis_url == "rediss://default:pw@redis.example:6380"
    assert s.market.yahoo_retries == 7
    assert not s.is_sqlite


def test_default_database_is_an_embedded_sqlite_file(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    s = Settings(data_dir=tmp_path)
    assert s.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path}/tft_trader.db"
    assert s.is_sqlite


def test_bad_redis_url_is_rejected():
    with pytest.raises(ValueError, match="REDIS_URL"):
        Settings(redis_url="http://localhost:6379")


def test_override_settings_is_scoped_and_normalises():
    before = get_settings().database_url
    with override_settings(database_url="postgres://x@y/z") as s:
        assert get_settings() is s
        assert s.database_url == "postgresql+asyncpg://x@y/z"
    assert get_settings().database_url == before
