"""The reference tier: Stream's own files, kept beside the repository and not in it.

stream-cli's validator test files and Stream's JSON Schemas live in the folder
`shared/` next to a checkout (or wherever $STREAMDROP_REFERENCES points). Test
modules that read them carry the `reference` marker and ask for their folder
through `reference_dir`: without the files they are skipped with one reason, and
fail instead when $STREAMDROP_REQUIRE_REFERENCES is set (CI sets it, so a missing
reference can never pass as a skip there). The rules they check are covered by
the project's own fixtures too, so a fresh clone tests them without this tier.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REQUIRE_ENV = "STREAMDROP_REQUIRE_REFERENCES"
LOCATION_ENV = "STREAMDROP_REFERENCES"


def references_root() -> Path:
    """$STREAMDROP_REFERENCES, or `shared/` beside the checkout."""
    configured = os.environ.get(LOCATION_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "shared"


def reference_dir(*parts: str) -> Path:
    """The folder `parts` of the references; skips (or fails under $REQUIRE_ENV) without it.

    Usable at a test module's top level (the whole module is skipped) or in a fixture.
    """
    folder = references_root().joinpath(*parts)
    if folder.is_dir():
        return folder
    reason = f"reference files not found at {folder} (set ${LOCATION_ENV} to their folder)"
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"the reference tier is required here: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)
    raise AssertionError("unreachable: pytest.skip raises")
