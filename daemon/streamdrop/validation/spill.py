"""A list that only grows and is read once in order, kept on disk past a few thousand entries.

Validation parks the facts of items whose references may point forward; a
file whose every item names something missing would park all of them. Past
`MEMORY_ENTRIES` the entries go to an anonymous temporary file in pickled
batches, so memory stays flat whatever the file holds.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterator
from typing import IO, Any, Final

MEMORY_ENTRIES: Final = 20_000


class SpillList:
    """append() many, then iterate once in the order appended."""

    __slots__ = ("batch", "file", "limit", "size")

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit or MEMORY_ENTRIES
        self.batch: list[Any] = []
        self.file: IO[bytes] | None = None
        self.size = 0

    def append(self, entry: Any) -> None:
        self.batch.append(entry)
        self.size += 1
        if len(self.batch) >= self.limit:
            self._spill()

    def extend(self, entries: Iterator[Any] | list[Any]) -> None:
        for entry in entries:
            self.append(entry)

    def __len__(self) -> int:
        return self.size

    def _spill(self) -> None:
        if self.file is None:
            self.file = tempfile.TemporaryFile(prefix="streamdrop-parked-")  # noqa: SIM115
        pickle.dump(self.batch, self.file, protocol=pickle.HIGHEST_PROTOCOL)
        self.batch = []

    def __iter__(self) -> Iterator[Any]:
        """Every entry in order; the list is empty afterwards."""
        file, batch = self.file, self.batch
        self.file, self.batch, self.size = None, [], 0
        if file is not None:
            with file:
                file.seek(0)
                while True:
                    try:
                        spilled = pickle.load(file)  # noqa: S301 - our own file
                    except EOFError:
                        break
                    yield from spilled
        yield from batch
