"""`tft-trader serve` (the API and the dashboard) and `tft-trader apikey ...` (who may call it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from backend.cli.common import console, err, run
from backend.core.settings import get_settings

if TYPE_CHECKING:
    from backend.auth.schemas import ApiKeyCreated, ApiKeyRead

apikey_app = typer.Typer(help="API keys for the REST API (shown once, stored hashed).", no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the REST API at /api/v1 (docs at /docs) and the built dashboard at /."""
    import uvicorn  # only this command needs the server

    settings = get_settings()
    if settings.api.public_read and host not in {"127.0.0.1", "localhost", "::1"}:
        err.print(
            f"[yellow]warning:[/yellow] API__PUBLIC_READ=true on {host}: anyone who reaches this port "
            "can read signals and the portfolio without a key"
        )
    console.print(f"serving http://{host}:{port}/api/v1 (docs at /docs)")
    uvicorn.run(
        "backend.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # X-Forwarded-For/-Proto are believed only from these proxies; the rate limit keys on the result.
        proxy_headers=True,
        forwarded_allow_ips=settings.api.forwarded_allow_ips,
        server_header=False,
        log_level=settings.log_level.lower(),
    )


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Argument(help="What the key is for, e.g. notebook or broker-bot.")],
    scope: Annotated[str, typer.Option(help="read, or write (also allows changes).")] = "read",
) -> None:
    """Create a key; it is printed once and cannot be shown again."""
    from backend.auth import service as auth_service
    from backend.db.engine import transaction

    async def flow() -> ApiKeyCreated:
        async with transaction() as session:
            return await auth_service.create(session=session, name=name, scope=scope)

    created = run(flow)
    console.print(
        f"created {created.scope} key {created.key_id} ({created.name}); store it now, it is shown once:"
    )
    console.print(created.key, highlight=False, soft_wrap=True)


@apikey_app.command("list")
def apikey_list() -> None:
    """Every key with its scope, last use and whether it is revoked (never the key itself)."""
    from backend.auth import service as auth_service
    from backend.db.engine import transaction

    async def flow() -> Sequence[ApiKeyRead]:
        async with transaction() as session:
            return await auth_service.list_keys(session=session)

    keys = run(flow)
    if not keys:
        console.print("no API keys yet: `tft-trader apikey create NAME --scope read|write`")
        return
    table = Table("id", "name", "scope", "created", "last used", "revoked")
    for k in keys:
        table.add_row(
            k.key_id,
            k.name,
            k.scope,
            k.created_at.isoformat(timespec="seconds"),
            k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "never",
            k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "",
        )
    console.print(table)


@apikey_app.command("revoke")
def apikey_revoke(key_id: Annotated[str, typer.Argument(help="The id `apikey list` shows.")]) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    from backend.auth import service as auth_service
    from backend.db.engine import transaction

    async def flow() -> ApiKeyRead:
        async with transaction() as session:
            return await auth_service.revoke(session=session, ident=key_id)

    revoked = run(flow)
    console.print(f"revoked key {revoked.key_id} ({revoked.name})")
