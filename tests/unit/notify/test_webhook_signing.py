"""Standard Webhooks signatures: the documented algorithm, the reference library, rotation, staleness."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from backend.notify.webhooks import body, new_secret, sign_headers


def documented_signature(secret: str, msg_id: str, timestamp: str, payload: str) -> str:
    """The README's algorithm, written independently: HMAC-SHA256 of "id.timestamp.body" with the
    base64-decoded key after `whsec_`, base64-encoded."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{payload}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def test_secret_is_32_random_bytes_with_the_prefix() -> None:
    a, b = new_secret(), new_secret()
    assert a.startswith("whsec_") and a != b
    assert len(base64.b64decode(a.removeprefix("whsec_"))) == 32


def test_signature_matches_the_documented_algorithm_and_the_library() -> None:
    secret = new_secret()
    now = datetime.now(UTC)
    payload = body(public_id="evt_1", type="signal.new", version=1, created_at=now, data={"ticker": "AAPL"})
    headers = sign_headers(msg_id="evt_1", timestamp=now, payload=payload, keys=[secret])
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    version, signature = headers["webhook-signature"].split(",")
    assert version == "v1"
    assert signature == documented_signature(secret, "evt_1", headers["webhook-timestamp"], payload)
    assert Webhook(secret).verify(payload, headers) == {
        "id": "evt_1",
        "type": "signal.new",
        "version": 1,
        "timestamp": now.isoformat(),
        "data": {"ticker": "AAPL"},
    }


def test_wrong_secret_tampered_body_and_stale_timestamp_fail() -> None:
    secret = new_secret()
    now = datetime.now(UTC)
    payload = '{"a":1}'
    headers = sign_headers(msg_id="evt_2", timestamp=now, payload=payload, keys=[secret])
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(new_secret()).verify(payload, headers)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(secret).verify('{"a":2}', headers)
    stale = sign_headers(msg_id="evt_2", timestamp=now - timedelta(minutes=6), payload=payload, keys=[secret])
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(payload, stale)


def test_rotation_sends_one_signature_per_key_and_each_verifies() -> None:
    old, new = new_secret(), new_secret()
    now = datetime.now(UTC)
    headers = sign_headers(msg_id="evt_3", timestamp=now, payload="{}", keys=[new, old])
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    Webhook(new).verify("{}", headers)
    Webhook(old).verify("{}", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify("{}", headers)


def readme_receiver() -> Callable[[str, dict[str, str], bytes], bool]:
    """The standard-library receiver exactly as the README shows it."""
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    block = next(b for b in readme.split("```python\n")[1:] if "def verify(" in b).split("```")[0]
    namespace: dict[str, Any] = {}
    exec(block, namespace)
    return namespace["verify"]


def test_the_readme_receiver_verifies_our_signatures_and_rejects_forgeries() -> None:
    verify = readme_receiver()
    secret, old = new_secret(), new_secret()
    payload = body(public_id="evt_9", type="trade.closed", version=1, created_at=datetime.now(UTC), data={})
    headers = sign_headers(msg_id="evt_9", timestamp=datetime.now(UTC), payload=payload, keys=[secret, old])
    assert verify(secret, headers, payload.encode()) and verify(old, headers, payload.encode())
    assert not verify(new_secret(), headers, payload.encode())
    assert not verify(secret, headers, payload.encode() + b" ")
    stale = sign_headers(
        msg_id="evt_9", timestamp=datetime.now(UTC) - timedelta(minutes=6), payload=payload, keys=[secret]
    )
    assert not verify(secret, stale, payload.encode())
