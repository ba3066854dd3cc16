"""Create, list, revoke and verify API keys.

A key reads `tft_<key_id>_<secret>`: `key_id` (8 hex characters) finds the row, `secret` is 32 random bytes
(base64url). Only HMAC-SHA256(pepper, secret) is stored and it is compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import SCOPES, ApiKey
from backend.auth.pepper import pepper
from backend.auth.schemas import ApiKeyCreated, ApiKeyRead
from backend.core.calendar import utcnow
from backend.core.errors import NotFound, ValidationFailed

PREFIX = "tft"
SECRET_BYTES = 32
KEY_PATTERN = re.compile(r"^tft_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
# Writing last_used_at on every request would turn each read into a write; a minute's precision is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# The API remembers a verified key for this long, so a burst of requests costs one lookup, not one each.
# A revocation therefore reaches an API process at most this late (`apikey revoke` runs in another process;
# a revoke in the same process takes effect at once). Only successful verifications are remembered.
VERIFIED_TTL_SECONDS = 5.0
VERIFIED_MAX_ENTRIES = 1024
_verified: dict[tuple[str, str], tuple[float, str, str]] = {}


def hash_secret(secret: str, key: bytes | None = None) -> str:
    return hmac.new(key or pepper(), secret.encode(), hashlib.sha256).hexdigest()


async def create(*, session: AsyncSession, name: str, scope: str) -> ApiKeyCreated:
    """A new key; the returned `key` is the only time its secret exists outside the caller."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed("the key name must be 1-100 characters (e.g. 'notebook' or 'broker-bot')")
    if scope not in SCOPES:
        raise ValidationFailed(f"scope {scope!r} is not one of {', '.join(SCOPES)}")
    while True:
        key_id = secrets.token_hex(4)
        if await session.scalar(select(ApiKey.id).where(ApiKey.key_id == key_id)) is None:
            break
    secret = base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).rstrip(b"=").decode()
    row = ApiKey(key_id=key_id, name=name, scope=scope, key_hash=hash_secret(secret), created_at=utcnow())
    session.add(row)
    await session.flush()
    return ApiKeyCreated(**ApiKeyRead.model_validate(row).model_dump(), key=f"{PREFIX}_{key_id}_{secret}")


async def list_keys(*, session: AsyncSession) -> Sequence[ApiKeyRead]:
    rows = (await session.scalars(select(ApiKey).order_by(ApiKey.id))).all()
    return [ApiKeyRead.model_validate(r) for r in rows]


async def revoke(*, session: AsyncSession, ident: str) -> ApiKeyRead:
    """Revoke by key id (as `apikey list` shows it) or numeric id; revoking twice keeps the first time."""
    query = select(ApiKey).where(ApiKey.key_id == ident.strip().lower())
    row = await session.scalar(query)
    if row is None and ident.strip().isdigit():
        row = await session.get(ApiKey, int(ident))
    if row is None:
        raise NotFound(f"no API key {ident!r}; `tft-trader apikey list` shows the ids")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
    _verified.clear()
    return ApiKeyRead.model_validate(row)


async def verify(*, session: AsyncSession, key: str, now: datetime | None = None) -> ApiKey | None:
    """The live key row for a presented key, or None (malformed, unknown, wrong secret, revoked)."""
    match = KEY_PATTERN.match(key)
    if match is None:
        return None
    key_id, secret = match.groups()
    row = await session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
    expected = row.key_hash if row is not None else "0" * 64
    # Compare even for an unknown id, so timing does not tell which ids exist.
    matches = hmac.compare_digest(hash_secret(secret), expected)
    if row is None or not matches or row.revoked_at is not None:
        return None
    now = now or utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        await session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
        row.last_used_at = now
    return row


async def verify_cached(*, session: AsyncSession, key: str, scope_of: str) -> tuple[str, str] | None:
    """(key_id, scope) of a live key, remembered VERIFIED_TTL_SECONDS per (database, key); None if invalid.

    `scope_of` names the database (its URL) so two databases in one process never share an entry.
    """
    cached = cached_verification(scope_of=scope_of, key=key)
    if cached is not None:
        return cached
    now = time.monotonic()
    row = await verify(session=session, key=key)
    if row is None:
        _verified.pop((scope_of, key), None)
        return None
    if len(_verified) >= VERIFIED_MAX_ENTRIES:  # bounded: many distinct keys just start over
        _verified.clear()
    _verified[(scope_of, key)] = (now + VERIFIED_TTL_SECONDS, row.key_id, row.scope)
    return row.key_id, row.scope


def cached_verification(*, scope_of: str, key: str) -> tuple[str, str] | None:
    """A still-fresh remembered verification of `key`, without touching the database."""
    entry = _verified.get((scope_of, key))
    if entry is not None and entry[0] > time.monotonic():
        return entry[1], entry[2]
    return None
