"""Realistic Feeds v3 import files (JSON Lines of {"type", "data"}) of a chosen size.

A generated file holds users, feed groups, a `user:` and a `timeline:` feed per
user, follows (timelines following users' feeds), collections, activities with
mentions, attachments and locations, threaded comments, reactions (on
activities and comments) and bookmarks; every reference resolves, so the file
is valid.

    python -m bench.generate_feeds OUT --mib 50
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from bench.generate import _text, _timestamp

REACTION_TYPES = ("like", "love", "wow", "upvote")


class FeedsFile:
    """Draws items for a file of about `target_bytes` bytes."""

    def __init__(self, target_bytes: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        # Proportions: activities, comments and reactions are ~85% of the bytes.
        self.users = max(4, target_bytes // 6_200)
        self.activities = max(4, target_bytes // 1_000)

    def items(self) -> Iterator[tuple[str, dict[str, Any]]]:
        rng = self.rng
        users = [f"user-{n:07d}" for n in range(self.users)]
        for n, user_id in enumerate(users):
            user: dict[str, Any] = {"id": user_id, "role": "user", "created_at": _timestamp(rng),
                                    "custom": {"name": f"User {n}"}}
            if n % 4 == 0:
                user["privacy_settings"] = {"read_receipts": {"enabled": True}}
            yield "user", user
        for group in ("user", "timeline"):
            yield "feed_group", {"group_id": group, "default_visibility": "public"}
        for user_id in users:
            for group in ("user", "timeline"):
                yield "feed", {"group_id": group, "id": user_id, "fid": f"{group}:{user_id}",
                               "created_by_id": user_id, "visibility": "public",
                               "created_at": _timestamp(rng)}
        for user_id in users:
            for followed in rng.sample(users, min(8, len(users))):
                if followed != user_id:
                    yield "follow", {"source_fid": f"timeline:{user_id}",
                                     "target_fid": f"user:{followed}",
                                     "created_at": _timestamp(rng)}
        yield "collection", {"name": "topics", "id": "music", "custom": {"label": "Music"}}
        yield from self._content(users)

    def _content(self, users: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        rng = self.rng
        for n in range(self.activities):
            author = rng.choice(users)
            activity_id = f"act-{n:08d}"
            activity: dict[str, Any] = {"id": activity_id, "type": "post", "user_id": author,
                                        "fids": [f"user:{author}"], "text": _text(rng),
                                        "created_at": _timestamp(rng)}
            if n % 5 == 0:
                activity["mentioned_user_ids"] = [rng.choice(users)]
            if n % 7 == 0:
                activity["attachments"] = [{"type": "image",
                                            "image_url": f"https://cdn.example.com/{n}.jpg"}]
            if n % 11 == 0:
                activity["location"] = {"lat": rng.uniform(-90, 90), "lng": rng.uniform(-180, 180)}
            yield "activity", activity
            comments: list[str] = []
            for k in range(rng.randint(0, 2)):
                comment_id = f"{activity_id}-c{k}"
                comment: dict[str, Any] = {"id": comment_id, "object_type": "activity",
                                           "object_id": activity_id, "user_id": rng.choice(users),
                                           "text": _text(rng), "created_at": _timestamp(rng)}
                if k and rng.random() < 0.5:
                    comment["parent_id"] = f"{activity_id}-c0"
                comments.append(comment_id)
                yield "comment", comment
            for user_id in rng.sample(users, min(rng.randint(0, 3), len(users))):
                yield "reaction", {"user_id": user_id, "activity_id": activity_id,
                                   "type": rng.choice(REACTION_TYPES),
                                   "created_at": _timestamp(rng)}
            if n % 6 == 0:
                yield "bookmark", {"user_id": rng.choice(users), "object_id": activity_id,
                                   "object_type": "activity"}
            if comments and n % 4 == 0:
                yield "reaction", {"user_id": rng.choice(users), "activity_id": activity_id,
                                   "comment_id": comments[-1], "type": "like"}


def write(path: Path, target_bytes: int, seed: int = 7) -> int:
    """Write a valid Feeds v3 file; return the number of items."""
    count = 0
    with path.open("wb") as out:
        for kind, data in FeedsFile(target_bytes, seed).items():
            out.write(orjson.dumps({"type": kind, "data": data}) + b"\n")
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--mib", type=float, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    count = write(args.out, int(args.mib * 1024 * 1024), args.seed)
    print(f"{args.out}: {count} items, {args.out.stat().st_size / 2**20:.1f} MiB (Feeds v3)")


if __name__ == "__main__":
    main()
