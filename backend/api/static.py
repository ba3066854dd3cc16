"""The built dashboard (Next.js static export) at `/`, mounted after the API.

Starlette's `StaticFiles` resolves each path and refuses anything outside its directory (path traversal),
serves `dir/index.html` for `dir/` (Next's `trailingSlash` export) and its `404.html` for unknown pages.
Unknown `/api/...` paths never reach it: the API's catch-all answers them with a JSON 404.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles


def mount_dashboard(app: FastAPI, directory: Path) -> bool:
    """Mount `directory` at `/` when it holds a build; returns whether it did."""
    if not (directory / "index.html").is_file():
        return False
    app.mount("/", StaticFiles(directory=directory, html=True), name="dashboard")
    return True
