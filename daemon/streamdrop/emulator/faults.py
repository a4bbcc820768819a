"""Which request gets which fault: pure and seeded, so a failing run can be replayed.

Each draw depends only on (seed, endpoint, the endpoint's request number), not on
how requests to different endpoints interleave, so concurrent clients still see
the same faults for the same seed.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable
from enum import StrEnum


class Fault(StrEnum):
    ERROR_500 = "500"  # the API answers 500 with Stream's code -1 body
    ERROR_503 = "503"  # the edge answers 503 in plain text
    SLOW = "slow"  # the answer comes, late
    LATE = "late"  # the request is carried out, its answer comes late (a lost create, say)
    DROP = "drop"  # the connection is closed with no response
    UPLOAD = "upload"  # the upload PUT answers 500 and stores nothing


API_FAULTS: frozenset[Fault] = frozenset({Fault.ERROR_500, Fault.ERROR_503, Fault.SLOW, Fault.DROP,
                                          Fault.LATE})
UPLOAD_FAULTS: frozenset[Fault] = frozenset({Fault.UPLOAD})
UPLOAD_ENDPOINT = "upload"


def parse_faults(names: Iterable[str]) -> tuple[Fault, ...]:
    """Fault names as given on the command line; unknown names raise ValueError."""
    try:
        return tuple(Fault(name.strip()) for name in names if name.strip())
    except ValueError:
        known = ", ".join(f.value for f in Fault)
        raise ValueError(f"unknown fault in {list(names)!r}; known: {known}") from None


def applicable(endpoint: str) -> frozenset[Fault]:
    return UPLOAD_FAULTS if endpoint == UPLOAD_ENDPOINT else API_FAULTS


def uniform(seed: int, *parts: object) -> float:
    """A number in [0, 1) fixed by the seed and the parts."""
    text = ":".join(str(p) for p in (seed, *parts)).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") / 2**64


def choose(
    seed: int, rate: float, kinds: Iterable[Fault], endpoint: str, number: int
) -> Fault | None:
    """The fault for the `number`-th request to `endpoint`, or None."""
    candidates = sorted(set(kinds) & applicable(endpoint))
    if not candidates or uniform(seed, endpoint, number, "hit") >= rate:
        return None
    return candidates[int(uniform(seed, endpoint, number, "kind") * len(candidates))]


class FaultPlan:
    """Random faults at a rate, plus faults queued on purpose (served first, in order)."""

    def __init__(self, rate: float, seed: int, kinds: Iterable[Fault]) -> None:
        self.rate = rate
        self.seed = seed
        self.kinds = frozenset(kinds)
        self._numbers: dict[str, int] = {}
        self._queued: deque[tuple[Fault, str | None]] = deque()

    def queue(self, faults: Iterable[Fault], endpoint: str | None = None) -> None:
        """The next matching requests (to `endpoint`, or to any it applies to) get these faults."""
        self._queued.extend((fault, endpoint) for fault in faults)

    def next(self, endpoint: str) -> Fault | None:
        number = self._numbers.get(endpoint, 0)
        self._numbers[endpoint] = number + 1
        queued = self._take_queued(endpoint)
        if queued is not None:
            return queued
        return choose(self.seed, self.rate, self.kinds, endpoint, number)

    def _take_queued(self, endpoint: str) -> Fault | None:
        for entry in self._queued:
            fault, target = entry
            if fault in applicable(endpoint) and target in (None, endpoint):
                self._queued.remove(entry)
                return fault
        return None
