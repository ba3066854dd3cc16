"""Every dashboard page against the API serving the demo database, in Debian's Chromium.

Each test fails on any console error or uncaught page error, and saves a screenshot to tests/e2e/artifacts/.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.e2e.conftest import ARTIFACTS, DEMO_AS_OF, ROOT

# A canvas "renders" when its pixels are not all one colour; `up` also looks for the candles' green.
CANVAS_PIXELS = """
(sel) => {
  const out = [];
  for (const c of document.querySelectorAll(sel + " canvas")) {
    if (!c.width || !c.height) continue;
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    let up = 0;
    for (let i = 0; i < d.length; i += 16) {
      if (d[i + 3] === 0) continue;
      seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      if (Math.abs(d[i] - 16) < 12 && Math.abs(d[i + 1] - 185) < 12 && Math.abs(d[i + 2] - 129) < 12) up++;
    }
    out.push({ colours: seen.size, up });
  }
  return out;
}
"""


@pytest.fixture
def errors(page: Page) -> Iterator[list[str]]:
    """Console errors and uncaught exceptions of the page; the test fails if there are any."""
    found: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            found.append(f"console: {msg.text} ({msg.location.get('url', '')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: found.append(f"pageerror: {exc}"))
    yield found
    assert found == [], f"errors in the browser: {found}"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def drawn(page: Page, selector: str) -> list[dict]:
    result: list[dict] = page.evaluate(CANVAS_PIXELS, selector)
    return result


def test_today_shows_candidates_with_reasons(page: Page, errors: list[str]) -> None:
    page.goto("/")
    candidates = page.locator("[data-candidate]")
    expect(candidates.first).to_be_visible()
    assert candidates.count() >= 3
    # Every candidate says why it is or is not a signal.
    for why in page.locator("[data-candidate] [data-why]").all_inner_texts():
        assert len(why.strip()) > 5, why
    expect(page.locator("#candidates-title")).to_contain_text(DEMO_AS_OF)
    # The model's verdict is on screen (the demo's model is not trusted: the page must say so).
    expect(page.locator("[data-model-trust]")).to_be_visible()
    trust = page.locator("[data-model-trust]").get_attribute("data-model-trust")
    assert trust in {"trusted", "untrusted"}
    if trust == "untrusted":
        expect(page.locator("[data-model-trust]")).to_contain_text("NOT trusted")
    expect(page.locator("[data-card=portfolio]")).to_contain_text("Equity")
    expect(page.locator("[data-card=portfolio]")).to_contain_text("halt limit")
    expect(page.locator("[data-card=active-signals] [data-signal]").first).to_be_visible()
    # Trending from the synthetic feed, labelled as such.
    expect(page.locator("[data-card=trending]")).to_contain_text("synthetic Reddit data")
    # Pipeline runs are recorded by the worker's tasks; the demo runs the chain in-process, so none may exist.
    expect(page.locator("[data-card=runs]")).to_contain_text(
        re.compile("No pipeline run recorded|Trading date")
    )
    expect(page.locator("[data-card=failed-notifications]")).to_contain_text("No failed notification")
    shot(page, "today")


def test_signals_filters(page: Page, errors: list[str]) -> None:
    page.goto("/signals/")
    rows = page.locator("[data-card=signals] tbody tr")
    expect(rows.first).to_be_visible()
    total = rows.count()

    page.get_by_label("rejected").check()
    expect(page.locator("[data-card=signals]")).not_to_contain_text("pending")
    statuses = page.locator("[data-card=signals] tbody tr td:nth-child(3)").all_inner_texts()
    assert statuses and set(statuses) == {"rejected"}, statuses
    page.get_by_label("rejected").uncheck()
    expect(rows).to_have_count(total)

    ticker = page.locator("[data-card=signals] tbody tr td:nth-child(2)").first.inner_text().strip()
    page.get_by_label("Ticker").fill(ticker)
    expect(page.locator("[data-card=signals] tbody tr").first).to_be_visible()
    page.wait_for_function(
        "(t) => [...document.querySelectorAll('[data-card=signals] tbody tr td:nth-child(2)')]"
        ".every(td => td.innerText.trim() === t)",
        arg=ticker,
    )
    page.get_by_label("Min confidence %").fill("100")
    expect(page.locator("[data-card=signals]")).to_contain_text("No signal matches these filters")
    shot(page, "signals-filtered")
    page.get_by_role("button", name="Clear filters").click()
    expect(rows).to_have_count(total)
    shot(page, "signals")


def test_signal_detail_explains_the_call(page: Page, errors: list[str]) -> None:
    page.goto("/signals/?")
    page.locator("[data-card=signals] [data-signal]").first.get_by_role(
        "link", name=re.compile("Why")
    ).click()
    expect(page).to_have_url(re.compile(r"/signals/detail/\?id=\d+"))
    explanation = page.locator("[data-explanation]")
    expect(explanation).to_contain_text("confidence")
    expect(page.locator("[data-card=explanation]")).to_contain_text("Class probabilities")
    expect(page.locator("[data-card=context]")).to_contain_text("RSI 14")
    expect(page.locator("[data-card=risk]")).to_contain_text(re.compile("approved|rejected"))
    expect(page.locator("[data-card=same-day]")).to_be_visible()
    expect(page.locator("[data-card=same-day]")).not_to_contain_text("Loading")
    shot(page, "signal-detail")


def test_portfolio_charts_and_metrics(page: Page, errors: list[str]) -> None:
    page.goto("/portfolio/")
    expect(page.locator("[data-card=equity] [data-chart=line][data-ready='1']")).to_be_visible()
    expect(page.locator("[data-card=drawdown] [data-chart=line][data-ready='1']")).to_be_visible()
    for card in ("equity", "drawdown"):
        canvases = drawn(page, f"[data-card={card}]")
        assert any(c["colours"] > 2 for c in canvases), (card, canvases)
    expect(page.locator("[data-metrics]")).to_contain_text("Sharpe")
    expect(page.locator("[data-metrics]")).to_contain_text("Profit factor")
    shot(page, "portfolio")


def test_ticker_chart_renders_candles(page: Page, errors: list[str]) -> None:
    page.goto("/ticker/?symbol=AAPL")
    expect(page.locator("h1")).to_contain_text("AAPL")
    chart = page.locator("[data-chart=price][data-ready='1']")
    expect(chart).to_be_visible()
    canvases = drawn(page, "[data-chart=price]")
    assert any(c["up"] > 20 for c in canvases), canvases  # green candles were drawn
    assert sum(c["colours"] > 2 for c in canvases) >= 3, canvases  # price, RSI and MACD panes
    expect(page.locator("[data-card=sentiment]")).to_contain_text("synthetic Reddit data")
    expect(page.locator("[data-card=sentiment] [data-chart=line][data-ready='1']").first).to_be_visible()
    expect(page.locator("[data-card=flags]")).not_to_contain_text("Loading")
    expect(page.locator("[data-card=ticker-signals]")).not_to_contain_text("Loading")
    shot(page, "ticker-aapl")


def test_ticker_unknown_symbol_says_so(page: Page) -> None:
    page.goto("/ticker/?symbol=ZZZZQ")
    expect(page.get_by_text("No ticker ZZZZQ is known")).to_be_visible()


def test_models_and_backtests(page: Page, errors: list[str]) -> None:
    page.goto("/models/")
    expect(page.locator("[data-card=models] tbody tr").first).to_be_visible()
    detail = page.locator("[data-card=model-detail]")
    expect(detail).to_contain_text("Rank IC")
    expect(detail).to_contain_text("RSI rule (baseline)")
    expect(detail.locator("svg[role=img] circle").first).to_be_attached()  # the reliability chart
    backtest = page.locator("[data-card=backtest-detail]")
    expect(backtest.locator("[data-chart=line][data-ready='1']")).to_be_visible()
    assert any(c["colours"] > 2 for c in drawn(page, "[data-card=backtest-detail]"))
    for column in ("Strategy", "RSI rule", "MACD rule", "Buy-and-hold"):
        expect(backtest.locator("thead")).to_contain_text(column)
    expect(backtest.locator("[data-caveats]")).to_contain_text("survivorship")
    # Times are New York time with the zone shown.
    expect(page.locator("[data-card=backtests] tbody")).to_contain_text(
        re.compile(r"\d{1,2}:\d\d [AP]M E[SD]T")
    )
    shot(page, "models")


def test_settings_key_and_subscriptions(page: Page, errors: list[str], write_key: str) -> None:
    page.goto("/settings/")
    expect(page.locator("[data-risk-settings]")).to_contain_text("max drawdown pct")
    page.get_by_role("textbox", name="API key").fill(write_key)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The key reads the API.")).to_be_visible()
    page.get_by_label("Address").fill("e2e@example.com")
    page.get_by_role("button", name="Add", exact=True).click()
    row = page.locator("[data-subscription]", has_text="e2e@example.com")
    expect(row).to_be_visible()
    row.get_by_role("button", name=re.compile("Remove")).click()
    expect(page.locator("[data-subscription]", has_text="e2e@example.com")).to_have_count(0)
    shot(page, "settings")


def test_phone_width_keyboard_and_dark_theme(page: Page, errors: list[str]) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    expect(page.locator("[data-candidate]").first).to_be_visible()
    # No horizontal scrolling of the page itself: wide tables scroll inside their own region.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    # The first Tab reaches the skip link; the menu opens from the keyboard.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    menu = page.get_by_role("button", name="Menu")
    menu.focus()
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    page.get_by_role("link", name="Portfolio").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/portfolio/$"))
    page.get_by_role("button", name="Dark theme").click()
    expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    page.reload()
    expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))  # remembered
    shot(page, "phone-dark-portfolio")


def test_unknown_api_path_is_json_404_and_pages_are_served(page: Page) -> None:
    response = page.request.get("/api/v1/nope")
    assert response.status == 404
    assert response.json()["error"]["code"]
    assert page.request.get("/signals/").ok
    assert page.request.get("/../../etc/passwd").status in (400, 404)


def test_live_event_updates_an_open_page(page: Page, errors: list[str], demo_env: dict[str, str]) -> None:
    """A new signal and its `signal.created` event (TEST DATA, published as the pipeline does) show up on an
    open Signals page without a reload."""
    page.goto("/signals/")
    rows = page.locator("[data-card=signals] tbody tr")
    expect(rows.first).to_be_visible()
    expect(page.locator("[data-live=live]")).to_be_visible()  # the event stream is connected
    before = rows.count()
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.seed_signals", "--live"],
        env=demo_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "published signal.created to" in done.stdout
    expect(rows).to_have_count(before + 1, timeout=15_000)


def test_error_and_empty_states_say_what_to_do(page: Page) -> None:
    """A failing endpoint shows its one-line message and a retry; an empty answer says why and what to do
    (answers replaced in the browser: the server itself is healthy)."""
    page.route(
        "**/api/v1/portfolio",
        lambda route: route.fulfill(
            status=503,
            json={"error": {"code": "database_unavailable", "message": "the database is unreachable"}},
        ),
    )
    page.route(
        "**/api/v1/candidates*",
        lambda route: route.fulfill(
            json={
                "trade_date": None,
                "portfolio": "live",
                "currency": "USD",
                "model_version": None,
                "model_trusted": None,
                "n_signals": 0,
                "items": [],
                "next_cursor": None,
            }
        ),
    )
    page.goto("/")
    card = page.locator("[data-card=portfolio]")
    expect(card.get_by_role("alert")).to_contain_text("the database is unreachable")
    page.unroute("**/api/v1/portfolio")
    card.get_by_role("button", name="Try again").click()
    expect(card).to_contain_text("Equity")
    expect(page.locator("[data-card=candidates]")).to_contain_text("tft-trader pipeline run")
    shot(page, "states")
