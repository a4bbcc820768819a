"""What a Feeds v3 file holds: the ids of each item type, duplicates, and references between items.

An item that passed its schema (`feeds_v3_fields`) is indexed by its key
(users, activities, comments by `id`; feeds by `fid`; feed groups by
`group_id`; feed views by `view_id`; collections by name and id; reactions,
bookmarks and follows by what they join); a key seen before of the same
type is a duplicate. What it names (users, feeds, activities, comments,
and feed groups when the app's are known) is looked up at once; a name not
found yet is parked, since the file may define it further on, and looked up
again once the file is read. Memory follows the ids and the references
still open, never the items. Keys joining several ids use NUL, which no id
holds. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from streamdrop.validation.chat_fields import quote
from streamdrop.validation.feeds_v3_fields import bookmark_target

SEP: Final = "\x00"
# The types other items name, and how a message calls them.
REFERENCED: Final = {"user": "user", "feed": "feed", "activity": "activity",
                     "comment": "comment", "feed_group": "feed group"}
Reference = tuple[str, str, str]  # (field, referenced type, id)
# An open reference: (item, line, offset, field, referenced type, id).
Open = tuple[int, int, int, str, str, str]
Keys = dict[str, set[str]]
# Per type: the item's key, and the references it makes that are not in `keys` yet
# (only those are built: in a file in the natural order nearly every one resolves).
KeyAndMisses = tuple[str, list[Reference]]


def _user(user: dict[str, Any], keys: Keys) -> KeyAndMisses:
    return user["id"], []


def _feed(feed: dict[str, Any], keys: Keys) -> KeyAndMisses:
    misses = []
    if feed["created_by_id"] not in keys["user"]:
        misses.append(("feed.created_by_id", "user", feed["created_by_id"]))
    if feed["group_id"] not in keys["feed_group"]:
        misses.append(("feed.group_id", "feed_group", feed["group_id"]))
    return feed["fid"], misses


def _users(field: str, user_ids: Any, users: set[str], misses: list[Reference]) -> None:
    for user_id in user_ids or ():
        if user_id not in users:
            misses.append((field, "user", user_id))


def _activity(activity: dict[str, Any], keys: Keys) -> KeyAndMisses:
    misses: list[Reference] = []
    users, feeds = keys["user"], keys["feed"]
    if activity["user_id"] not in users:
        misses.append(("activity.user_id", "user", activity["user_id"]))
    for fid in activity["fids"]:
        if fid not in feeds:
            misses.append(("activity.fids", "feed", fid))
    parent = activity.get("parent_id")
    if parent and parent not in keys["activity"]:
        misses.append(("activity.parent_id", "activity", parent))
    _users("activity.mentioned_user_ids", activity.get("mentioned_user_ids"), users, misses)
    return activity["id"], misses


def _comment(comment: dict[str, Any], keys: Keys) -> KeyAndMisses:
    misses: list[Reference] = []
    users = keys["user"]
    if comment["object_id"] not in keys["activity"]:
        misses.append(("comment.object_id", "activity", comment["object_id"]))
    if comment["user_id"] not in users:
        misses.append(("comment.user_id", "user", comment["user_id"]))
    parent = comment.get("parent_id")
    if parent and parent not in keys["comment"]:
        misses.append(("comment.parent_id", "comment", parent))
    _users("comment.mentioned_user_ids", comment.get("mentioned_user_ids"), users, misses)
    return comment["id"], misses


def _reaction(reaction: dict[str, Any], keys: Keys) -> KeyAndMisses:
    misses: list[Reference] = []
    user_id, activity_id = reaction["user_id"], reaction["activity_id"]
    comment_id = reaction.get("comment_id") or ""
    if user_id not in keys["user"]:
        misses.append(("reaction.user_id", "user", user_id))
    if activity_id not in keys["activity"]:
        misses.append(("reaction.activity_id", "activity", activity_id))
    if comment_id and comment_id not in keys["comment"]:
        misses.append(("reaction.comment_id", "comment", comment_id))
    return SEP.join((activity_id, comment_id, reaction["type"], user_id)), misses


def _bookmark(bookmark: dict[str, Any], keys: Keys) -> KeyAndMisses:
    misses: list[Reference] = []
    user_id = bookmark["user_id"]
    kind = bookmark.get("object_type") or "activity"
    target = bookmark_target(bookmark)
    if user_id not in keys["user"]:
        misses.append(("bookmark.user_id", "user", user_id))
    if target not in keys[kind]:
        field = "bookmark.object_id" if bookmark.get("object_id") else "bookmark.activity_id"
        misses.append((field, kind, target))
    return SEP.join((user_id, kind, target, bookmark.get("folder_id") or "")), misses


def _follow(follow: dict[str, Any], keys: Keys) -> KeyAndMisses:
    misses: list[Reference] = []
    source, target = follow["source_fid"], follow["target_fid"]
    feeds = keys["feed"]
    if source not in feeds:
        misses.append(("follow.source_fid", "feed", source))
    if target not in feeds:
        misses.append(("follow.target_fid", "feed", target))
    return f"{source}{SEP}{target}", misses


def _collection(collection: dict[str, Any], keys: Keys) -> KeyAndMisses:
    user_id = collection.get("user_id")
    misses: list[Reference] = []
    if user_id and user_id not in keys["user"]:
        misses.append(("collection.user_id", "user", user_id))
    return f"{collection['name']}{SEP}{collection['id']}", misses


def _group(group: dict[str, Any], keys: Keys) -> KeyAndMisses:
    return group["group_id"], []


def _view(view: dict[str, Any], keys: Keys) -> KeyAndMisses:
    return view["view_id"], []


KEYS: Final[Mapping[str, Callable[[dict[str, Any], Keys], KeyAndMisses]]] = {
    "user": _user, "feed": _feed, "feed_group": _group, "feed_view": _view,
    "activity": _activity, "comment": _comment, "reaction": _reaction, "bookmark": _bookmark,
    "follow": _follow, "collection": _collection,
}


# The field a duplicate error points at: what makes two items of a type the same.
KEY_FIELDS: Final = {
    "user": "user.id", "feed": "feed.fid", "feed_group": "feed_group.group_id",
    "feed_view": "feed_view.view_id", "activity": "activity.id", "comment": "comment.id",
    "reaction": "reaction", "bookmark": "bookmark", "follow": "follow",
    "collection": "collection.id",
}


def duplicate_message(kind: str, key: str) -> str:
    """The error for a second item of `kind` with `key`."""
    parts = key.split(SEP)
    if kind == "reaction":
        activity_id, comment_id, reaction_type, user_id = parts
        on = f"comment {quote(comment_id)} of " if comment_id else ""
        return (f"duplicate reaction {quote(reaction_type)} by user {quote(user_id)} on "
                f"{on}activity {quote(activity_id)}")
    if kind == "bookmark":
        user_id, object_type, target, folder = parts
        return (f"duplicate bookmark of {object_type} {quote(target)} by user {quote(user_id)}"
                + (f" in folder {quote(folder)}" if folder else ""))
    if kind == "follow":
        return f"duplicate follow of {quote(parts[1])} by {quote(parts[0])}"
    if kind == "collection":
        return f"duplicate collection {quote(parts[0])} item {quote(parts[1])}"
    return f"duplicate {kind} {quote(key)}"


class FeedsV3Index:
    """Keys per type, and the references not resolved yet.

    `feed_groups`: the app's feed groups; None leaves feeds' groups unchecked.
    """

    __slots__ = ("app_groups", "keys", "open")

    def __init__(self, feed_groups: Mapping[str, str] | None) -> None:
        self.keys: dict[str, set[str]] = {kind: set() for kind in KEYS}
        self.app_groups = None if feed_groups is None else frozenset(feed_groups)
        self.open: list[Open] = []

    def add(self, kind: str, data: dict[str, Any], item: int, line: int,
            offset: int) -> str | None:
        """Index an item that fits its schema; the duplicate error, or None."""
        key, misses = KEYS[kind](data, self.keys)
        seen = self.keys[kind]
        if key in seen:
            return duplicate_message(kind, key)
        seen.add(key)
        for field, target, name in misses:
            if self._outside_app(target, name):
                self.open.append((item, line, offset, field, target, name))
        return None

    def _outside_app(self, target: str, name: str) -> bool:
        """False for a feed group the app has, or any when the app's groups are not known."""
        if target != "feed_group":
            return True
        return self.app_groups is not None and name not in self.app_groups

    def missing(self) -> Iterator[Open]:
        """Once the file is read: the references to nothing in it, in file order."""
        keys = self.keys
        for reference in self.open:
            if reference[5] not in keys[reference[4]]:
                yield reference
        self.open = []

    def stats(self) -> dict[str, int]:
        """How many items of each type were indexed."""
        return {STAT_NAMES[kind]: len(keys) for kind, keys in self.keys.items()}


STAT_NAMES: Final = {
    "user": "users", "feed": "feeds", "feed_group": "feed_groups", "feed_view": "feed_views",
    "activity": "activities", "comment": "comments", "reaction": "reactions",
    "bookmark": "bookmarks", "follow": "follows", "collection": "collections",
}
