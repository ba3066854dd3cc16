"""`api_keys`: who may call the REST API. Only a keyed hash of each key is stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, UTCDateTime

SCOPES = ("read", "write")


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint("scope IN ('read', 'write')", name="scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The public part of the key (`tft_<key_id>_<secret>`): finds the row without scanning hashes.
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(5))
    key_hash: Mapped[str] = mapped_column(String(64))  # hex HMAC-SHA256(pepper, secret)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
