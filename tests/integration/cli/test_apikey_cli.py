"""`tft-trader apikey create | list | revoke` on a committed database; the key verifies until revoked."""

from typer.testing import CliRunner

from backend.auth import service as auth_service
from backend.cli import app
from backend.core.settings import override_settings
from tests.flows import in_db

runner = CliRunner()


def test_create_list_revoke(fresh_db: str, tmp_path) -> None:
    with override_settings(data_dir=tmp_path):
        created = runner.invoke(app, ["apikey", "create", "notebook", "--scope", "write"])
        assert created.exit_code == 0, created.output
        key = created.stdout.strip().splitlines()[-1]
        assert key.startswith("tft_") and len(key.split("_", 2)[2]) == 43
        key_id = key.split("_")[1]
        assert in_db(lambda s: auth_service.verify(session=s, key=key)) is not None

        listed = runner.invoke(app, ["apikey", "list"])
        assert key_id in listed.stdout and "notebook" in listed.stdout and "write" in listed.stdout
        assert key.split("_", 2)[2] not in listed.stdout  # the secret is never shown again

        assert runner.invoke(app, ["apikey", "revoke", key_id]).exit_code == 0
        assert in_db(lambda s: auth_service.verify(session=s, key=key)) is None

        bad = runner.invoke(app, ["apikey", "create", "x", "--scope", "admin"])
        assert bad.exit_code == 1 and "scope 'admin'" in bad.stderr
        missing = runner.invoke(app, ["apikey", "revoke", "ffffffff"])
        assert missing.exit_code == 1 and "no API key" in missing.stderr
