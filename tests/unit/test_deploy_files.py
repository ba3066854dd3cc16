"""The deployment files agree with the repository: no Docker engine runs here, so what can be checked
without one is checked as text (the image's COPY sources exist and are not ignored, every process type
runs a real command, the dashboard is built in the image rather than expected pre-built)."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from backend.cli import app

ROOT = Path(__file__).resolve().parents[2]


def _ignored(path: str) -> bool:
    """Whether .dockerignore leaves `path` out of the build context (last matching pattern wins)."""
    ignored = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").rstrip("/")
        if any(
            fnmatch.fnmatch(candidate, pattern) or fnmatch.fnmatch(candidate, f"{pattern}/*")
            for candidate in (path, path.rstrip("/"))
        ) or (pattern.startswith("**/") and fnmatch.fnmatch(Path(path).name, pattern[3:])):
            ignored = not negate
    return ignored


def test_every_copy_from_the_context_exists_and_is_not_ignored() -> None:
    sources = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from=") for w in words):
            sources += words[1:-1]
    assert "frontend/package-lock.json" in sources and "backend" in sources
    for source in sources:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"
        assert not _ignored(source), f"Dockerfile copies {source}, which .dockerignore leaves out"


def test_the_image_builds_the_dashboard_and_keeps_only_its_export() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+) AS (\w+)", dockerfile, flags=re.M)
    assert [name for _, name in stages] == ["dashboard", "build", "runtime"]
    assert "RUN npm ci" in dockerfile and "RUN npm run build" in dockerfile
    assert "COPY --from=dashboard /frontend/out ./frontend/out" in dockerfile
    # A stale local build or node_modules must never reach the context.
    assert _ignored("frontend/out") and _ignored("frontend/node_modules") and _ignored("frontend/.next")


def _cli_commands() -> set[str]:
    import typer.main

    group = typer.main.get_command(app)
    return set(getattr(group, "commands", {}))


@pytest.mark.parametrize(
    "command",
    [
        *(
            service["command"]
            for name, service in yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"].items()
            if "command" in service and name not in {"postgres", "redis"}
        ),
        *(
            shlex.split(line.split(":", 1)[1])
            for line in (ROOT / "Procfile").read_text().splitlines()
            if ":" in line
        ),
        *(
            shlex.split(service["dockerCommand"])
            for service in yaml.safe_load((ROOT / "render.yaml").read_text())["services"]
            if "dockerCommand" in service
        ),
        *(
            shlex.split(c)
            for c in json.loads((ROOT / "railway.json").read_text())["deploy"]["preDeployCommand"]
        ),
    ],
    ids=lambda c: " ".join(c)[:60],
)
def test_every_process_runs_a_command_that_exists(command: list[str]) -> None:
    if command[0] == "celery":
        assert command[1:3] == ["-A", "backend.tasks"] and command[3] in {"worker", "beat"}
    else:
        assert command[0] == "tft-trader", command
        assert command[1] in _cli_commands(), f"{command[1]!r} is not a tft-trader command"


def test_compose_runs_every_process_type_with_health_checks() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert {"postgres", "redis", "migrate", "api", "worker", "beat"} <= set(services)
    for name in ("postgres", "redis", "api", "worker", "beat"):
        assert "healthcheck" in services[name], f"{name} has no health check"
    assert "noeviction" in services["redis"]["command"]
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
