"""Gitignore-style globs over paths relative to the drop folder (pure)."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A gitignore-style glob as a regex over a relative POSIX path.

    `*` and `?` stay inside one folder, `**/` is any number of folders, a
    trailing `/**` is everything inside; a pattern without a slash matches the
    name at any depth (as in .gitignore); a leading `/` only anchors.
    """
    body = pattern.strip()
    if "/" not in body.rstrip("/"):
        body = "**/" + body
    body = body.lstrip("/")
    if body.endswith("/"):
        body += "**"
    out, i = [], 0
    while i < len(body):
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif body[i] == "*":
            out.append("[^/]*")
            i += 1
        elif body[i] == "?":
            out.append("[^/]")
            i += 1
        elif body[i] == "[" and (end := body.find("]", i + 1)) > i:
            inner = body[i + 1:end].replace("\\", "\\\\")
            out.append("[" + ("^" + inner[1:] if inner.startswith("!") else inner) + "]")
            i = end + 1
        else:
            out.append(re.escape(body[i]))
            i += 1
    return re.compile("".join(out), re.DOTALL)  # a file name may hold any character, newlines too
