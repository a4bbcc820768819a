"""The database is where the config says, and only `run` and `db upgrade` create it."""

from __future__ import annotations

import pytest
from daemon_harness import Setup

OPS = [("status",), ("tasks",), ("show", "1"), ("retry", "1"), ("skip", "1"),
       ("pause", "default"), ("resume", "default")]


@pytest.mark.slow
def test_ops_commands_on_a_missing_database_exit_2_naming_it(setup: Setup) -> None:
    path = setup.root / "nowhere" / "streamdrop.db"
    setup.sections["database"]["url"] = f"sqlite+aiosqlite:///{path}"
    setup.write()
    for args in OPS:
        result = setup.command(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert f"no database at {path}" in result.stderr
    assert not path.parent.exists()
    upgrade = setup.command("db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    assert path.exists()
    status = setup.command("status", "--output", "tree")
    assert status.returncode == 0, status.stderr
    assert "total       0" in status.stdout
