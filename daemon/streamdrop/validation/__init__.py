"""Checking import files against Stream's rules: chat (JSON array or JSON Lines), feeds, Feeds v3.

The public entry point is `validate_path`; everything below it is pure except
the streaming reader, which only reads bytes.
"""

from streamdrop.validation.model import (
    DEFAULT_CHANNEL_TYPES,
    DEFAULT_ROLES,
    FORMATS,
    Format,
    Options,
    Problem,
    Result,
)
from streamdrop.validation.run import (
    detect_file_format,
    detect_format,
    detect_path_format,
    validate_path,
)

__all__ = [
    "DEFAULT_CHANNEL_TYPES",
    "DEFAULT_ROLES",
    "FORMATS",
    "Format",
    "Options",
    "Problem",
    "Result",
    "detect_file_format",
    "detect_format",
    "detect_path_format",
    "validate_path",
]
