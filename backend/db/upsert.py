"""Dialect helpers for idempotent bulk writes on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, MetaData, Table, and_, func, insert, or_, select, text, true
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:  # pandas only for the annotation: importing it costs every CLI command that writes
    import pandas as pd


def dialect_insert(session: AsyncSession, table: Table) -> Any:
    """The dialect's `insert` (both have `on_conflict_do_update`)."""
    # Imported on use: a SQLite install never needs the PostgreSQL dialect at CLI start (and vice versa).
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def frame_records(frame: pd.DataFrame, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """Row tuples for the driver, column-wise: NaN becomes None (NULL), numpy scalars Python ones."""
    out = []
    for name in columns:
        series = frame[name]
        if series.dtype.kind in "iub":
            out.append(series.tolist())
            continue
        values = series.to_numpy(dtype=object, copy=True)  # pandas 3 may hand out a read-only view
        values[series.isna().to_numpy()] = None
        out.append(values.tolist())
    return list(zip(*out, strict=True))


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


@dataclass
class UpsertResult:
    """Counts per group (for prices: per ticker)."""

    by_group: dict[str, UpsertCounts] = field(default_factory=dict)

    def totals(self) -> UpsertCounts:
        out = UpsertCounts()
        for c in self.by_group.values():
            out.inserted += c.inserted
            out.updated += c.updated
            out.unchanged += c.unchanged
        return out


async def bulk_upsert(
    *,
    session: AsyncSession,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    key: Sequence[str],
    group_by: str,
) -> UpsertResult:
    """Insert or update `rows` by `key`; rows identical to the stored ones are left alone.

    Rows go into a temporary staging table first (PostgreSQL: binary COPY, the fastest way in), then one
    `INSERT ... SELECT ... ON CONFLICT DO UPDATE ... WHERE <something changed>` merges them. Counting the
    staged keys that already existed, and the rows the merge touched, tells inserted / updated / unchanged
    per group without reading rows back.
    """
    if not rows:
        return UpsertResult()
    staging = Table(
        f"staging_{table.name}",
        MetaData(),
        *(Column(name, table.c[name].type) for name in columns),
        prefixes=["TEMPORARY"],
    )
    conn = await session.connection()
    # Created and dropped inside the caller's transaction: on failure the rollback removes it too.
    await conn.run_sync(lambda c: staging.create(c))
    is_postgres = session.get_bind().dialect.name == "postgresql"
    if is_postgres:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            staging.name, records=rows, columns=list(columns)
        )
    else:
        await conn.execute(insert(staging), [dict(zip(columns, r, strict=True)) for r in rows])

    on_key = and_(*(staging.c[k] == table.c[k] for k in key))
    counted = select(staging.c[group_by], func.count()).group_by(staging.c[group_by])
    staged: Counter[Any] = Counter({g: n for g, n in await conn.execute(counted)})
    joined = counted.select_from(staging.join(table, on_key))
    existing: Counter[Any] = Counter({g: n for g, n in await conn.execute(joined)})

    stmt = dialect_insert(session, table).from_select(
        list(columns), select(*(staging.c[c] for c in columns)).where(true())
    )
    updatable = [c for c in columns if c not in key]
    changed = or_(*(table.c[c].is_distinct_from(stmt.excluded[c]) for c in updatable))
    set_ = {c: stmt.excluded[c] for c in updatable}
    if "updated_at" in table.c and "updated_at" not in columns:
        set_["updated_at"] = func.now()
    stmt = stmt.on_conflict_do_update(index_elements=list(key), set_=set_, where=changed).returning(
        table.c[group_by]
    )
    if is_postgres:
        # Count in the server instead of shipping one RETURNING row per written row to the client.
        merged = stmt.cte("merged")
        counted_merge = select(merged.c[group_by], func.count()).group_by(merged.c[group_by])
        touched: Counter[Any] = Counter({g: n for g, n in await conn.execute(counted_merge)})
    else:
        touched = Counter(group for (group,) in await conn.execute(stmt))
    await conn.execute(text(f"DROP TABLE {staging.name}"))

    result = UpsertResult()
    for group, n_staged in staged.items():
        inserted = n_staged - existing[group]
        updated = touched[group] - inserted
        result.by_group[group] = UpsertCounts(inserted, updated, existing[group] - updated)
    return result
