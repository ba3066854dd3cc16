"""SSRF: webhook URLs refused at add time, and again at connect time against the address actually used."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from backend.core.errors import ValidationFailed
from backend.core.settings import NotifySettings
from backend.notify import ssrf, webhooks
from tests.receivers import WebhookReceiver, certificates, webhook_receiver

PUBLIC = ipaddress.ip_address("93.184.216.34")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as r:
        yield r


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://127.0.0.1/hook", "127.0.0.1"),
        ("https://10.1.2.3/hook", "10.1.2.3"),
        ("https://192.168.1.20/hook", "192.168.1.20"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("https://[::1]/hook", "::1"),
        ("https://[fd00::1]/hook", "fd00::1"),
        ("https://[::ffff:127.0.0.1]/hook", "::ffff:7f00:1"),
        ("https://[64:ff9b::a00:1]/hook", "64:ff9b::a00:1"),  # NAT64 form of 10.0.0.1
        ("https://0.0.0.0/hook", "0.0.0.0"),
        ("https://localhost/hook", "127.0.0.1"),  # a hostname resolving to loopback
    ],
)
async def test_non_public_targets_are_refused_when_added(url: str, shown: str) -> None:
    with pytest.raises(ValidationFailed, match="non-public address") as info:
        await ssrf.validate_webhook_url(url, require_https=True, allow_private=False)
    assert shown in str(info.value) and "\n" not in str(info.value)


async def test_bad_urls_get_one_line_reasons() -> None:
    with pytest.raises(ValidationFailed, match="is not https"):
        await ssrf.validate_webhook_url("http://example.com/x", require_https=True, allow_private=False)
    for bad in ("ftp://example.com/x", "https://", "not a url"):
        with pytest.raises(ValidationFailed, match="invalid webhook URL"):
            await ssrf.validate_webhook_url(bad, require_https=True, allow_private=False)


async def test_public_address_accepted_and_private_allowed_by_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def public(host: str, port: int) -> list[ssrf.IPAddress]:
        return [PUBLIC]

    monkeypatch.setattr(ssrf, "resolve", public)
    url = await ssrf.validate_webhook_url(
        "https://hooks.example.com/x", require_https=True, allow_private=False
    )
    assert url == "https://hooks.example.com/x"
    local = await ssrf.validate_webhook_url(
        "http://127.0.0.1:8080/x", require_https=False, allow_private=True
    )
    assert local == "http://127.0.0.1:8080/x"


def test_is_public() -> None:
    assert ssrf.is_public(PUBLIC) and ssrf.is_public(ipaddress.ip_address("2606:4700::1111"))
    for private in (
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "100.64.0.1",
        "169.254.1.1",
        "224.0.0.1",
        "::1",
        "fe80::1",
    ):
        assert not ssrf.is_public(ipaddress.ip_address(private)), private


def settings(**changes: object) -> NotifySettings:
    return NotifySettings(webhook_timeout_seconds=5, **changes)  # type: ignore[arg-type]


async def test_connect_time_refuses_a_private_address_and_sends_nothing(receiver: WebhookReceiver) -> None:
    result = await webhooks.send(
        receiver.url("/ok"), msg_id="evt_x", payload="{}", keys=[webhooks.new_secret()],
        now=datetime.now(UTC), settings=settings(),
    )  # fmt: skip
    assert result.outcome == "failed" and "blocked at connect time" in (result.error or "")
    assert receiver.received == []


async def test_dns_rebinding_is_refused_at_connect(
    monkeypatch: pytest.MonkeyPatch, receiver: WebhookReceiver
) -> None:
    """Public when the URL is added, 127.0.0.1 when the delivery connects: nothing reaches the inside."""
    answers = iter([[PUBLIC], [ipaddress.ip_address("127.0.0.1")]])

    async def rebinding(host: str, port: int) -> list[ssrf.IPAddress]:
        return next(answers)

    monkeypatch.setattr(ssrf, "resolve", rebinding)
    url = receiver.url("/ok", host="rebind.example.com")
    assert await ssrf.validate_webhook_url(url, require_https=False, allow_private=False) == url

    result = await webhooks.send(
        url,
        msg_id="evt_y",
        payload="{}",
        keys=[webhooks.new_secret()],
        now=datetime.now(UTC),
        settings=settings(),
    )
    assert result.outcome == "failed"
    assert "127.0.0.1" in (result.error or "") and receiver.received == []


async def test_pinned_https_keeps_host_header_and_checks_the_certificate_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The connection goes to the resolved address; Host and TLS name stay the URL's hostname."""

    certs = certificates(tmp_path, "hooks.example.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca_file))
    resolved: list[str] = []

    async def to_loopback(host: str, port: int) -> list[ssrf.IPAddress]:
        resolved.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(ssrf, "resolve", to_loopback)
    with webhook_receiver(tls=certs.server) as receiver:
        url = receiver.url("/ok", host="hooks.example.test")
        ok = await webhooks.send(
            url, msg_id="evt_z", payload="{}", keys=[webhooks.new_secret()], now=datetime.now(UTC),
            settings=settings(allow_private_webhooks=True),
        )  # fmt: skip
        assert ok.outcome == "sent", ok
        assert receiver.hits("/ok")[0].headers["host"] == f"hooks.example.test:{receiver.port}"
        assert resolved == ["hooks.example.test"]
        # The same server under a name its certificate does not carry: the TLS check still applies.
        wrong = await webhooks.send(
            receiver.url("/ok", host="other.example.test"), msg_id="evt_z2", payload="{}",
            keys=[webhooks.new_secret()], now=datetime.now(UTC),
            settings=settings(allow_private_webhooks=True),
        )  # fmt: skip
        assert wrong.outcome == "retry" and "CERTIFICATE_VERIFY_FAILED" in (wrong.error or "")
        assert len(receiver.received) == 1
    assert isinstance(certs.server, ssl.SSLContext)


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.0.0.7", "169.254.169.254", "::1", "fe80::1", "::ffff:10.0.0.1"]
)
async def test_connect_time_check_refuses_each_non_public_answer(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    """Whatever the name resolves to at send time is checked before any connection is opened."""
    connected: list[object] = []

    async def answer(host: str, port: int) -> list[ssrf.IPAddress]:
        return [ipaddress.ip_address(address)]

    async def never(self: object, request: object) -> object:
        connected.append(request)
        raise AssertionError("no connection may be attempted")

    monkeypatch.setattr(ssrf, "resolve", answer)
    monkeypatch.setattr(ssrf.httpx.AsyncHTTPTransport, "handle_async_request", never)
    result = await webhooks.send(
        "https://hooks.example.com/x", msg_id="evt_c", payload="{}", keys=[webhooks.new_secret()],
        now=datetime.now(UTC), settings=settings(),
    )  # fmt: skip
    shown = str(ipaddress.ip_address(address))
    assert result.outcome == "failed" and shown in (result.error or "") and connected == []
