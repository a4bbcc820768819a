"""Realistic chat import files of a chosen size, for the benchmarks and tests.

A generated file holds users (some with teams), devices, regular channels with
teams and distinct (member_ids) channels, members for every channel, messages
with threads, mentions and attachments, and reactions: items come in the order
Stream requires, and every reference resolves, so a file is valid.

    python -m bench.generate OUT --mib 100 --layout lines|single|pretty|jsonl
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

LAYOUTS = ("lines", "single", "pretty", "jsonl")
WORDS = [
    "migration", "stream", "chat", "import", "channel", "thread", "reply", "review", "deploy",
    "merge", "release", "ship", "coffee", "lunch", "meeting", "tomorrow", "today", "great",
    "thanks", "sure", "please", "check", "looks", "good", "done",
]


def _timestamp(rng: random.Random) -> str:
    """A moment in 2024, UTC, as exports write them."""
    moment = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(366 * 86400))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 18)))


class ChatFile:
    """Draws items for a file of about `target_bytes` bytes."""

    def __init__(self, target_bytes: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.target = target_bytes
        # Proportions seen in real exports: ~90% messages and reactions.
        self.users = max(4, target_bytes // 6_000)
        self.channels = max(2, self.users // 3)
        self.teams = [f"team-{n}" for n in range(max(1, self.users // 400))]

    def items(self) -> Iterator[tuple[str, dict[str, Any]]]:
        rng = self.rng
        user_teams: dict[str, list[str]] = {}
        for n in range(self.users):
            user_id = f"user-{n:07d}"
            user: dict[str, Any] = {"id": user_id, "role": "user", "name": f"User {n}"}
            if n % 3 == 0:
                user_teams[user_id] = [rng.choice(self.teams)]
                user["teams"] = user_teams[user_id]
            if n % 5 == 0:
                user["created_at"] = _timestamp(rng)
            yield "user", user
        for n in range(0, self.users, 7):
            yield "device", {
                "id": f"device-{n:07d}",
                "user_id": f"user-{n:07d}",
                "created_at": _timestamp(rng),
                "push_provider_type": rng.choice(["firebase", "apn"]),
            }
        yield from self._channels_and_content(user_teams)

    def _channels_and_content(
        self, user_teams: dict[str, list[str]]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        rng = self.rng
        channels: list[tuple[dict[str, Any], list[str]]] = []
        pairs: set[tuple[str, ...]] = set()
        for n in range(self.channels):
            if n % 4 == 3:  # a distinct channel between two users without teams
                pair = self._new_pair(user_teams, pairs)
                key = {"channel_member_ids": pair}
                channel = {"type": "messaging", "member_ids": pair, "created_by": pair[0]}
                channels.append((key, pair))
            else:
                team = rng.choice(self.teams)
                members = [u for u, teams in user_teams.items() if team in teams][:6]
                members = members or [f"user-{0:07d}"]
                channel_id = f"channel-{n:06d}"
                key = {"channel_id": channel_id}
                channel = {"id": channel_id, "type": "messaging", "team": team,
                           "created_by": members[0], "name": f"Channel {n}"}
                channels.append((key, members))
            yield "channel", channel
        for key, members in channels:
            for user_id in members:
                yield "member", {"channel_type": "messaging", **key, "user_id": user_id}
        yield from self._messages(channels)

    def _new_pair(self, user_teams: dict[str, list[str]], pairs: set[tuple[str, ...]]) -> list[str]:
        """Two users without teams who have no distinct channel yet."""
        while True:
            pair = sorted({f"user-{self.rng.randrange(self.users):07d}" for _ in range(2)})
            if len(pair) == 2 and not set(pair) & user_teams.keys() and tuple(pair) not in pairs:
                pairs.add(tuple(pair))
                return pair

    def _messages(
        self, channels: list[tuple[dict[str, Any], list[str]]]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        rng = self.rng
        reactions: list[dict[str, Any]] = []
        written = 0
        n = 0
        while written < self.target:
            key, members = rng.choice(channels)
            message: dict[str, Any] = {
                "id": f"message-{n:09d}", "channel_type": "messaging", **key,
                "user": rng.choice(members), "text": _text(rng), "created_at": _timestamp(rng),
            }
            if n % 10 >= 7:  # replies in the thread of the last message ending in 0
                message["parent_id"] = f"message-{n - n % 10:09d}"
            if n % 25 == 0:
                message["mentioned_users_ids"] = [rng.choice(members)]
            if n % 40 == 0:
                message["attachments"] = [
                    {"type": "image", "image_url": f"https://cdn.example.com/{n}.png"},
                    {"type": "file", "asset_url": f"https://cdn.example.com/{n}.pdf"},
                ]
            written += len(orjson.dumps(message)) + 30
            yield "message", message
            if n % 3 == 0:
                reactions.append({"message_id": message["id"],
                                  "type": rng.choice(["like", "love", "haha"]),
                                  "user_id": rng.choice(members), "created_at": _timestamp(rng)})
                written += 140
            n += 1
        yield from (("reaction", r) for r in reactions)


def write(path: Path, target_bytes: int, layout: str, seed: int = 7) -> int:
    """Write a valid chat file; return the number of items."""
    key = "data" if layout == "jsonl" else "item"
    count = 0
    with path.open("wb") as out:
        if layout != "jsonl":
            out.write(b"[" if layout == "single" else b"[\n")
        first = True
        for kind, body in ChatFile(target_bytes, seed).items():
            record = {"type": kind, key: body}
            if layout == "jsonl":
                out.write(orjson.dumps(record) + b"\n")
            elif layout == "pretty":
                text = orjson.dumps(record, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n  ")
                out.write((b"" if first else b",\n") + b"  " + text)
            else:
                sep = b"" if first else (b"," if layout == "single" else b",\n")
                out.write(sep + orjson.dumps(record))
            first = False
            count += 1
        if layout != "jsonl":
            out.write(b"]" if layout == "single" else b"\n]\n")
    return count


def array_from_jsonl(source: Path, target: Path) -> int:
    """The same items as a JSON array, one per line (the `lines` layout), without drawing
    them again: each `{"type": ..., "data": ...}` line becomes `{"type": ..., "item": ...}`."""
    count = 0
    with source.open("rb") as lines, target.open("wb") as out:
        out.write(b"[\n")
        for line in lines:
            head, _, rest = line.rstrip(b"\n").partition(b',"data":')
            out.write((b",\n" if count else b"") + head + b',"item":' + rest)
            count += 1
        out.write(b"\n]\n")
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--mib", type=float, default=100)
    parser.add_argument("--layout", choices=LAYOUTS, default="lines")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    count = write(args.out, int(args.mib * 1024 * 1024), args.layout, args.seed)
    size = args.out.stat().st_size
    print(f"{args.out}: {count} items, {size / 2**20:.1f} MiB ({args.layout})")


if __name__ == "__main__":
    main()
