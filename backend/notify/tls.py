"""The TLS client context for SMTP and webhooks, built once per CA setting.

Loading a CA bundle takes ~0.2 s of CPU, and it blocked the event loop when every send built its own
context. `SSL_CERT_FILE` / `SSL_CERT_DIR` (a private CA for a self-hosted mail server or receiver) still
apply: the cache is keyed by them.
"""

from __future__ import annotations

import os
import ssl
from functools import lru_cache
from typing import Literal

import httpx


def client_context(purpose: Literal["smtp", "https"]) -> ssl.SSLContext:
    """A verifying client context (certifi's CAs, or SSL_CERT_FILE / SSL_CERT_DIR when set).

    One per protocol: httpcore sets HTTP ALPN names on the context it is given, which an SMTP server must
    not be offered.
    """
    return _context(purpose, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@lru_cache(maxsize=8)
def _context(purpose: str, cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context(verify=True, trust_env=True)
