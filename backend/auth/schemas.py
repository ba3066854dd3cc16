"""API key schemas: what `apikey list` and the API show (never the hash)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

Scope = Literal["read", "write"]


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key_id: str
    name: str
    scope: Scope
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    """The key itself is shown once, at creation."""

    key: str


class Principal(BaseModel):
    """Who is calling: a key's id and scope, or anonymous (public reads)."""

    key_id: str | None
    scope: Scope | None
