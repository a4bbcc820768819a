"""Response bodies in Stream's shapes: JSON successes with `duration`, APIError bodies."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

MORE_INFO = "https://getstream.io/chat/docs/api_errors_response"
RATE_LIMIT_INFO = "https://getstream.io/chat/docs/rate_limits"
INTERNAL_ERROR = -1
INPUT_ERROR = 4
RATE_LIMITED = 9
DOES_NOT_EXIST = 16
PAYLOAD_TOO_BIG = 22
AUTH_CODES = frozenset({2, 5, 40, 41, 42, 43})


class ApiError(Exception):
    """A refusal a handler raises; the pipeline turns it into Stream's error body."""

    def __init__(self, status: int, code: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def duration(seconds: float) -> str:
    return f"{seconds * 1000:.2f}ms"


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def error_body(
    operation: str, status: int, code: int, detail: str, seconds: float
) -> dict[str, Any]:
    """APIError (spec §4.4): `"<Operation> failed with error: \"<detail>\""`."""
    return {
        "code": code,
        "message": f'{operation} failed with error: "{detail}"',
        "exception_fields": {},
        "StatusCode": status,
        "duration": duration(seconds),
        "more_info": MORE_INFO,
        "details": [],
        "unrecoverable": code in AUTH_CODES,
    }


def rate_limited_body(seconds: float) -> dict[str, Any]:
    return {
        "code": RATE_LIMITED,
        "message": "Too many requests, check response headers for more information.",
        "StatusCode": 429,
        "duration": duration(seconds),
        "more_info": RATE_LIMIT_INFO,
        "details": [],
    }


def plain_response(text: str, status: int) -> Response:
    """What Stream's edge sends for some refusals: not JSON (spec §4.3)."""
    return Response(text, status_code=status, media_type="text/plain")


def s3_error(status: int, s3_code: str, message: str) -> Response:
    """Upload refusals look like S3's, since the real upload URL is S3's."""
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{s3_code}</Code><Message>{message}</Message></Error>"
    )
    return Response(xml, status_code=status, media_type="application/xml")
