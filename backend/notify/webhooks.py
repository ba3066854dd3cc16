"""Signed webhooks (Standard Webhooks): JSON body, `webhook-id/-timestamp/-signature` headers.

The signature is the `standardwebhooks` library's: base64 HMAC-SHA256 of "id.timestamp.body" keyed with the
base64-decoded part of `whsec_...`, as `v1,<sig>`; during a secret rotation both keys sign, space-separated.
Delivery: 15 s total deadline, no redirects, only 2xx is success, 410 disables the subscription, 408/429/5xx
and network errors or timeouts are retried, anything else fails. Response bodies are never read back.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from backend.core.settings import NotifySettings
from backend.notify.schemas import SendResult
from backend.notify.ssrf import BlockedAddress, PinnedTransport
from backend.notify.tls import client_context

SECRET_PREFIX = "whsec_"
RETRYABLE = {408, 425, 429}
USER_AGENT = "tft-trader-webhooks/1"


def new_secret() -> str:
    """A fresh signing secret: 32 random bytes, base64, with the Standard Webhooks prefix."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def body(*, public_id: str, type: str, version: int, created_at: datetime, data: dict[str, Any]) -> str:
    """The JSON sent: the event's id, versioned type and its data (the same bytes that are signed)."""
    envelope = {
        "id": public_id,
        "type": type,
        "version": version,
        "timestamp": created_at.isoformat(),
        "data": data,
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True, default=str)


def sign_headers(*, msg_id: str, timestamp: datetime, payload: str, keys: Sequence[str]) -> dict[str, str]:
    """The three Standard Webhooks headers, one `v1,` signature per key."""
    signatures = " ".join(Webhook(key).sign(msg_id, timestamp, payload) for key in keys)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signatures,
    }


async def send(
    url: str, *, msg_id: str, payload: str, keys: Sequence[str], now: datetime, settings: NotifySettings
) -> SendResult:
    """One POST of `payload` to `url`."""
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        **sign_headers(msg_id=msg_id, timestamp=now, payload=payload, keys=keys),
    }
    timeout = settings.webhook_timeout_seconds
    transport = PinnedTransport(
        allow_private=settings.allow_private_webhooks, retries=0, verify=client_context("https")
    )
    # One client per delivery: a pooled TLS connection made for one hostname is never reused for another
    # that shares its address. trust_env=False: an HTTP(S)_PROXY variable must not reroute webhooks.
    async with httpx.AsyncClient(
        transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
    ) as client:
        try:
            # A total deadline too: httpx's timeouts are per read, a receiver trickling bytes evades them.
            async with asyncio.timeout(timeout):
                async with client.stream("POST", url, content=payload.encode(), headers=headers) as response:
                    code, reason = response.status_code, response.reason_phrase
        except BlockedAddress as exc:
            return SendResult("failed", error=f"blocked at connect time: {exc}"[:500])
        except (TimeoutError, httpx.TimeoutException):
            return SendResult("retry", error=f"no answer within {timeout:g} s")
        except httpx.HTTPError as exc:
            return SendResult("retry", error=f"{type(exc).__name__}: {exc}"[:500])
    reply = f"HTTP {code} {reason}".strip()
    if 200 <= code < 300:
        return SendResult("sent", code=code, reply=reply)
    if code == 410:
        return SendResult("gone", code=code, reply=reply, error="the receiver answered 410 Gone")
    if code in RETRYABLE or code >= 500:
        return SendResult("retry", code=code, reply=reply, error=f"the receiver answered {code}")
    if 300 <= code < 400:
        return SendResult(
            "failed", code=code, reply=reply, error=f"redirect ({code}) not followed: update the URL"
        )
    return SendResult("failed", code=code, reply=reply, error=f"the receiver answered {code}")
