"""Upload slots (one-time, expiring presigned URLs) and the shipped FakeClock, without HTTP."""

from __future__ import annotations

import pytest

from streamdrop.emulator.uploads import (
    UploadRefused,
    UploadSlots,
    check_declared_size,
    clean_filename,
)
from streamdrop.testing import FAKE_EPOCH, FakeClock

NOW = 1_700_000_000.0


def refusal(slots: UploadSlots, slot_id: str, token: str, expires: str, now: float) -> int:
    with pytest.raises(UploadRefused) as refused:
        slots.claim(slot_id, token, expires, now)
    return refused.value.status


def test_slot_path_is_streams_shape_and_ends_with_the_filename() -> None:
    slot = UploadSlots("42", 3_600).create("data.jsonl", NOW)
    prefix, app_id, _, name = slot.path.rsplit("/", 3)
    assert (prefix, app_id, name) == ("s3://stream-import", "42", "data.jsonl")
    assert slot.expires_at == int(NOW) + 3_600


def test_slot_is_one_time_but_a_failed_put_gives_it_back() -> None:
    slots = UploadSlots("1", 60)
    slot = slots.create("a.json", NOW)
    claimed = slots.claim(slot.id, slot.token, str(slot.expires_at), NOW)
    assert refusal(slots, slot.id, slot.token, str(slot.expires_at), NOW) == 403
    slots.release(claimed)  # nothing stored: the PUT failed
    assert slots.claim(slot.id, slot.token, str(slot.expires_at), NOW) is slot


def test_wrong_token_unknown_slot_tampered_or_past_expiry_are_403() -> None:
    slots = UploadSlots("1", 60)
    slot = slots.create("a.json", NOW)
    expires = str(slot.expires_at)
    assert refusal(slots, slot.id, "guess", expires, NOW) == 403
    assert refusal(slots, "nope", slot.token, expires, NOW) == 403
    assert refusal(slots, slot.id, slot.token, str(slot.expires_at + 999), NOW) == 403
    assert refusal(slots, slot.id, slot.token, expires, NOW + 60) == 403


def test_declared_size_must_be_present_and_within_the_cap() -> None:
    check_declared_size("100", 100)
    for length, status in ((None, 411), ("", 411), ("-1", 411), ("101", 413)):
        with pytest.raises(UploadRefused) as refused:
            check_declared_size(length, 100)
        assert refused.value.status == status


@pytest.mark.parametrize(("given", "expected"), [("a.jsonl", "a.jsonl"), ("../../x.json", "x.json"),
                                                 ("C:\\dir\\y.json", "y.json"), (None, ""),
                                                 (7, ""), ("dir/", "")])
def test_clean_filename_keeps_the_base_name_only(given: object, expected: str) -> None:
    assert clean_filename(given) == expected


def test_fake_clock_moves_wall_and_monotonic_time_together_and_only_forward() -> None:
    clock = FakeClock()
    assert clock.time() == FAKE_EPOCH
    assert FAKE_EPOCH % 60 == 0
    before = clock.monotonic()
    clock.advance(2.5)
    assert (clock.time(), clock.monotonic()) == (FAKE_EPOCH + 2.5, before + 2.5)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
