"""FastAPI dependencies: database session, who is calling (API key or anonymous) and what they may do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api import ratelimit
from backend.api.errors import ApiError
from backend.auth import service as auth_service
from backend.auth.schemas import Principal
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
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
) -> Principal:
    """The caller's key (verified, rate-limited per key) or anonymous (rate-limited per client IP)."""
    settings = get_settings().api
    client_ip = request.client.host if request.client else "unknown"
    if credentials is None:
        if request.headers.get("authorization"):
            await ratelimit.hit(request, f"ip:{client_ip}", settings.anonymous_rate_limit_per_minute)
            raise ApiError(401, "the Authorization header must read `Bearer <key>`", code="invalid_api_key")
        await ratelimit.hit(request, f"ip:{client_ip}", settings.anonymous_rate_limit_per_minute)
        return Principal(key_id=None, scope=None)
    verified = await _verify(credentials.credentials)
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


async def _verify(key: str) -> tuple[str, str] | None:
    """The key's (id, scope); from memory for a few seconds after a lookup (auth VERIFIED_TTL_SECONDS)."""
    database = get_settings().database_url
    cached = auth_service.cached_verification(scope_of=database, key=key)
    if cached is not None:
        return cached
    async with transaction() as session:
        return await auth_service.verify_cached(session=session, key=key, scope_of=database)


async def require_read(principal: Annotated[Principal, Depends(identify)]) -> Principal:
    """Any valid key; no key only when `API__PUBLIC_READ=true`."""
    if principal.scope is None and not get_settings().api.public_read:
        raise ApiError(401, NEEDS_KEY)
    return principal


async def require_write(principal: Annotated[Principal, Depends(identify)]) -> Principal:
    """A valid key with the write scope."""
    if principal.scope is None:
        raise ApiError(401, NEEDS_KEY + " with --scope write")
    if principal.scope != "write":
        raise ApiError(403, f"API key {principal.key_id} is read-only; this needs a key with --scope write")
    return principal


ReadDep = Annotated[Principal, Depends(require_read)]
WriteDep = Annotated[Principal, Depends(require_write)]
