"""SIGHUP re-reads the configuration: new rules apply, a broken file changes nothing."""

from __future__ import annotations

import signal

import pytest
from daemon_harness import Setup, chat_file, drop, sha256, stop, wait_until


def events(setup: Setup, name: str) -> list[dict[str, object]]:
    return [e for e in setup.log_events() if e.get("event") == name]


@pytest.mark.slow
def test_sighup_applies_rules_keeps_old_on_error_and_names_restart_keys(setup: Setup) -> None:
    proc = setup.start()
    try:
        setup.wait_for_event("daemon.ready")
        setup.rules = [{"glob": "**", "mode": "insert"}]
        setup.sections["drop"]["settle_seconds"] = 0.5  # restart-only
        setup.write()
        proc.send_signal(signal.SIGHUP)
        setup.wait_for_event("config.reloaded")
        (warning,) = events(setup, "config.restart_needed")
        assert warning["keys"] == ["drop"]
        drop(setup.drop, "a.jsonl", chat_file(1))
        wait_until(lambda: len(setup.emulator.imports()) == 1)
        assert setup.emulator.imports()[0]["mode"] == "insert"  # the new rule

        setup.rules = [{"glob": "**", "mode": "sideways"}]  # invalid
        setup.write()
        proc.send_signal(signal.SIGHUP)
        setup.wait_for_event("config.reload_failed")
        (failed,) = events(setup, "config.reload_failed")
        assert "rules[0].mode" in str(failed["error"])
        drop(setup.drop, "b.jsonl", chat_file(2))
        wait_until(lambda: len(setup.emulator.imports()) == 2)
        modes = {i["sha256"]: i["mode"] for i in setup.emulator.imports()}
        assert modes[sha256(chat_file(2))] == "insert"  # the rules in use stayed
        assert proc.poll() is None
        assert stop(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert all(line.startswith("{") for line in setup.all_log_lines())
