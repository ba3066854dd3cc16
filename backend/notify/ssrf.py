"""Webhook targets that cannot reach the inside: URL checks at add time and a pinned transport at connect.

A URL's host is resolved once per request; if any address is not globally routable (loopback, private,
link-local such as the cloud metadata address 169.254.169.254, unique-local IPv6, multicast, reserved, or
NAT64/IPv4-mapped forms of those) the request is refused. Otherwise the connection goes to that resolved
address, with the original Host header and TLS server name (SNI and certificate check) kept, so a second
DNS answer (DNS rebinding) never decides where the bytes go.

Why not `httpx-secure`: it patches private httpx/httpcore internals (pinned to their minor versions), and
picks the address by opening TCP probes to the candidates, denied ones included. This module uses only
public httpx API (`sni_hostname` request extension) and resolves without connecting.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import httpx

from backend.core.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class BlockedAddress(Exception):
    """The target resolves to an address webhooks may not reach."""


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The host's addresses (an IP literal is its own answer). Tests patch this: it is the only resolver."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast, judging embedded IPv4 (mapped, NAT64) by the IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address in _NAT64:
            return is_public(ipaddress.IPv4Address(address.packed[-4:]))
    return address.is_global and not address.is_multicast


async def checked_addresses(host: str, port: int, *, allow_private: bool) -> list[IPAddress]:
    """Resolve `host` and refuse it unless every address may be reached (a DNS failure raises OSError)."""
    addresses = await resolve(host, port)
    if not addresses:
        raise BlockedAddress(f"{host} has no address")
    if not allow_private:
        blocked = [str(a) for a in addresses if not is_public(a)]
        if blocked:
            raise BlockedAddress(
                f"{host} resolves to a non-public address ({', '.join(blocked)}): webhooks may not reach "
                "loopback, private or link-local networks (set NOTIFY__ALLOW_PRIVATE_WEBHOOKS=true for a "
                "receiver on your own network)"
            )
    return addresses


async def validate_webhook_url(url: str, *, require_https: bool, allow_private: bool) -> str:
    """The URL, normalised, or ValidationFailed with a one-line reason (nothing is stored on failure)."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValidationFailed(f"invalid webhook URL {url!r}: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValidationFailed(f"invalid webhook URL {url!r}: use https://host/path")
    if require_https and parsed.scheme != "https":
        raise ValidationFailed(
            f"webhook URL {url!r} is not https: NOTIFY__REQUIRE_HTTPS is on (turn it off for a plain-http "
            "receiver on your own network)"
        )
    try:
        await checked_addresses(
            parsed.host, parsed.port or _default_port(parsed), allow_private=allow_private
        )
    except BlockedAddress as exc:
        raise ValidationFailed(f"webhook URL {url!r} refused: {exc}") from None
    except OSError as exc:
        raise ValidationFailed(f"webhook URL {url!r}: cannot resolve {parsed.host} ({exc})") from None
    return str(parsed)


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


class PinnedTransport(httpx.AsyncBaseTransport):
    """Resolves each request's host once, refuses non-public addresses, connects to the checked address."""

    def __init__(self, *, allow_private: bool, **transport_options: Any) -> None:
        self.allow_private = allow_private
        self._inner = httpx.AsyncHTTPTransport(**transport_options)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        port = request.url.port or _default_port(request.url)
        # BlockedAddress propagates as is: the caller must not mistake it for a retryable network error.
        try:
            addresses = await checked_addresses(host, port, allow_private=self.allow_private)
        except OSError as exc:  # DNS trouble is transient: retried like any connect error
            raise httpx.ConnectError(f"cannot resolve {host}: {exc}", request=request) from exc
        # The Host header was set from the original URL when the request was built; the TLS name follows
        # the extension, so the certificate is still checked against the hostname, not the address.
        request.url = request.url.copy_with(host=str(addresses[0]))
        if request.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
