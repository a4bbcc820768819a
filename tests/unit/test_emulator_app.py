"""Small decisions of the emulator's HTTP layer, checked without a server."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request

from streamdrop.emulator.app import ApiError, import_request, is_loopback
from streamdrop.emulator.server import is_loopback_host


def request_from(host: str | None) -> Request:
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/", "headers": [],
                             "query_string": b"", "client": (host, 5000) if host else None}
    return Request(scope)


@pytest.mark.parametrize(("host", "allowed"), [("127.0.0.1", True), ("127.8.9.1", True),
                                               ("::1", True), ("10.0.0.7", False),
                                               ("192.168.1.2", False), ("testclient", False),
                                               (None, False)])
def test_test_endpoints_answer_loopback_clients_only(host: str | None, allowed: bool) -> None:
    assert is_loopback(request_from(host)) is allowed


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("localhost", True),
                                                ("::1", True), ("0.0.0.0", False),
                                                ("example.org", False)])
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_create_import_request_takes_path_mode_and_optional_merge_custom() -> None:
    assert import_request({"path": "p", "mode": "insert"}) == ("p", "insert", None)
    assert import_request({"path": "p", "mode": "upsert", "merge_custom": False}) == \
        ("p", "upsert", False)
    bads: list[dict[str, Any]] = [
        {"mode": "upsert"}, {"path": "", "mode": "upsert"}, {"path": "p"},
        {"path": "p", "mode": "UPSERT"}, {"path": "p", "mode": "upsert", "merge_custom": 1},
    ]
    for bad in bads:
        with pytest.raises(ApiError) as refused:
            import_request(bad)
        assert (refused.value.status, refused.value.code) == (400, 4)
