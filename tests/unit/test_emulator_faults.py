"""The emulator's fault choice: seeded, per endpoint, independent of interleaving."""

from __future__ import annotations

import pytest

from streamdrop.emulator.faults import Fault, FaultPlan, choose, parse_faults

ALL = tuple(Fault)


def draws(seed: int, rate: float, endpoint: str, count: int = 200) -> list[Fault | None]:
    return [choose(seed, rate, ALL, endpoint, n) for n in range(count)]


def test_same_seed_same_faults() -> None:
    assert draws(7, 0.3, "get_import") == draws(7, 0.3, "get_import")


def test_other_seed_other_faults() -> None:
    assert draws(7, 0.3, "get_import") != draws(8, 0.3, "get_import")


def test_rate_zero_never_and_rate_one_always() -> None:
    assert set(draws(1, 0.0, "get_import")) == {None}
    assert None not in draws(1, 1.0, "get_import")


def test_rate_is_roughly_the_share_of_faults() -> None:
    hits = sum(f is not None for f in draws(3, 0.25, "list_imports", 4_000))
    assert 850 < hits < 1_150


def test_api_routes_get_api_faults_and_the_upload_only_upload_faults() -> None:
    assert set(draws(5, 1.0, "get_import")) == {Fault.ERROR_500, Fault.ERROR_503, Fault.SLOW,
                                                Fault.DROP, Fault.LATE}
    assert set(draws(5, 1.0, "upload")) == {Fault.UPLOAD}


def test_kinds_restrict_the_choice() -> None:
    assert {choose(5, 1.0, [Fault.DROP], "get_import", n) for n in range(50)} == {Fault.DROP}
    assert choose(5, 1.0, [Fault.DROP], "upload", 0) is None


def test_plan_draws_do_not_depend_on_other_endpoints_traffic() -> None:
    alone, mixed = FaultPlan(0.5, 11, ALL), FaultPlan(0.5, 11, ALL)
    expected = [alone.next("get_import") for _ in range(50)]
    seen = []
    for _ in range(50):
        mixed.next("list_imports")
        seen.append(mixed.next("get_import"))
    assert seen == expected


def test_queued_faults_come_first_in_order_and_only_where_they_apply() -> None:
    plan = FaultPlan(0.0, 1, ALL)
    plan.queue([Fault.DROP, Fault.ERROR_503])
    plan.queue([Fault.UPLOAD])
    plan.queue([Fault.ERROR_500], endpoint="create_import")
    assert plan.next("upload") is Fault.UPLOAD
    assert plan.next("get_import") is Fault.DROP
    assert plan.next("get_import") is Fault.ERROR_503
    assert plan.next("get_import") is None
    assert plan.next("create_import") is Fault.ERROR_500
    assert plan.next("create_import") is None


def test_parse_faults_names_and_refusal() -> None:
    assert parse_faults(["500", " drop", ""]) == (Fault.ERROR_500, Fault.DROP)
    with pytest.raises(ValueError, match="unknown fault"):
        parse_faults(["explode"])
