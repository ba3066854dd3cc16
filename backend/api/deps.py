"""FastAPI dependencies: database session, who is calling (API key or anonymous) and what they may do."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api import ratelimit
from backend.api.errors import ApiError
from backend.auth import service as auth_service
from backend.auth.schemas import Principal
from backend.core.flight import SingleFlight
from backend.core.settings import get_settings
from backend.db.engine import get_engine, session_factory, transaction


async def get_session() -> AsyncIterator[AsyncSession]:
    """A session for one request; reads end with a rollback, write routes commit inside `session.begin()`."""
    async with session_factory(get_engine())() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key from `tft-trader apikey create NAME --scope read|write`: "
    "`Authorization: Bearer tft_...`",
)
NEEDS_KEY = "this endpoint needs an API key: send `Authorization: Bearer <key>` (`tft-trader apikey create`)"


async def identify(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
) -> Principal:
    """The caller (`caller`); the `bearer` scheme is declared here for the OpenAPI document."""
    return await caller(request)


async def caller(request: Request) -> Principal:
    """The caller's key (verified, rate-limited per key) or anonymous (rate-limited per client IP).

    Reads the header itself (as `HTTPBearer` does), so the response cache's fast path runs the very same
    checks outside FastAPI's dependency injection (`backend.api.cache.ServeCached`).
    """
    settings = get_settings().api
    client_ip = request.client.host if request.client else "unknown"
    header = request.headers.get("authorization")
    scheme, key = get_authorization_scheme_param(header)
    if not (header and scheme.lower() == "bearer" and key):
        await ratelimit.hit(request, f"ip:{client_ip}", settings.anonymous_rate_limit_per_minute)
        if header:
            raise ApiError(401, "the Authorization header must read `Bearer <key>`", code="invalid_api_key")
        return Principal(key_id=None, scope=None)
    verified = await _verify(key)
    if verified is None:
        # Wrong keys count against the IP's budget, so guessing is rate-limited too.
        await ratelimit.hit(request, f"ip:{client_ip}", settings.anonymous_rate_limit_per_minute)
        raise ApiError(
            401,
            "the API key is not valid (unknown, malformed or revoked): create one with "
            "`tft-trader apikey create NAME --scope read|write`",
            code="invalid_api_key",
        )
    key_id, scope = verified
    await ratelimit.hit(request, f"key:{key_id}", settings.rate_limit_per_minute)
    return Principal(key_id=key_id, scope=scope)


# When the remembered verification lapses under load, the requests arriving meanwhile wait for one
# lookup instead of each reading the database.
_lookups: SingleFlight[tuple[str, str], tuple[str, str] | None] = SingleFlight()


async def _verify(key: str) -> tuple[str, str] | None:
    """The key's (id, scope); from memory for a few seconds after a lookup (auth VERIFIED_TTL_SECONDS)."""
    database = get_settings().database_url
    cached = auth_service.cached_verification(scope_of=database, key=key)
    if cached is not None:
        return cached
    return await _lookups.run((database, key), functools.partial(_lookup, database, key))


async def _lookup(database: str, key: str) -> tuple[str, str] | None:
    async with transaction() as session:
        return await auth_service.verify_cached(session=session, key=key, scope_of=database)


async def require_read(principal: Annotated[Principal, Depends(identify)]) -> Principal:
    """Any valid key; no key only when `API__PUBLIC_READ=true`."""
    return may_read(principal)


def may_read(principal: Principal) -> Principal:
    if principal.scope is None and not get_settings().api.public_read:
        raise ApiError(401, NEEDS_KEY)
    return principal


async def authorize_read(request: Request) -> Principal:
    """`ReadDep` as a plain call: the caller, rate-limited, allowed to read (else an ApiError)."""
    return may_read(await caller(request))


async def require_write(principal: Annotated[Principal, Depends(identify)]) -> Principal:
    """A valid key with the write scope."""
    if principal.scope is None:
        raise ApiError(401, NEEDS_KEY + " with --scope write")
    if principal.scope != "write":
        raise ApiError(403, f"API key {principal.key_id} is read-only; this needs a key with --scope write")
    return principal


ReadDep = Annotated[Principal, Depends(require_read)]
WriteDep = Annotated[Principal, Depends(require_write)]
