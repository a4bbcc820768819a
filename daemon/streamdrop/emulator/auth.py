"""Server-side auth as Stream checks it: `api_key` query parameter plus an HS256 JWT.

Codes follow Stream's error table (spec §4.4): 2 for a wrong key, 43 for a bad
signature, 40/41 for an expired or not-yet-valid token, 5 for anything else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

ACCESS_KEY_INVALID = 2
AUTHENTICATION_ERROR = 5
TOKEN_EXPIRED = 40
TOKEN_NOT_VALID_YET = 41
TOKEN_SIGNATURE_INVALID = 43


@dataclass(frozen=True, slots=True)
class AuthFailure:
    code: int
    detail: str


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _hs256(signing_input: str, secret: str) -> bytes:
    return hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()


# HS256 is checked here rather than with PyJWT, which warns about secrets shorter
# than 32 bytes; under `-W error` that warning would turn into a 500 mid-request.
def _claims(token: str, secret: str, now: float) -> dict[str, Any] | AuthFailure:
    malformed = AuthFailure(AUTHENTICATION_ERROR, "JWT token is malformed or not signed with HS256")
    parts = token.split(".")
    if len(parts) != 3:
        return malformed
    try:
        header, claims = orjson.loads(_b64decode(parts[0])), orjson.loads(_b64decode(parts[1]))
        signature = _b64decode(parts[2])
    except (ValueError, orjson.JSONDecodeError):
        return malformed
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        return malformed
    if not hmac.compare_digest(signature, _hs256(f"{parts[0]}.{parts[1]}", secret)):
        return AuthFailure(TOKEN_SIGNATURE_INVALID, "JWT signature is invalid")
    return _timing_failure(claims, now) or claims


def _timing_failure(claims: Mapping[str, Any], now: float) -> AuthFailure | None:
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if isinstance(exp, int | float) and now >= exp:
        return AuthFailure(TOKEN_EXPIRED, "JWT token expired")
    if isinstance(nbf, int | float) and now < nbf:
        return AuthFailure(TOKEN_NOT_VALID_YET, "JWT token is not valid yet")
    return None


def is_server_token(claims: Mapping[str, Any]) -> bool:
    """`{"server": true}`, the old PHP `"true"`, or claims without a user (the new SDK's `{}`)."""
    return claims.get("server") in (True, "true") or "user_id" not in claims


def check(
    api_key: str | None,
    headers: Mapping[str, str],
    expected_key: str,
    secret: str,
    now: float | None = None,
) -> AuthFailure | None:
    """None when the request may go on, else why it may not. `headers` is case-insensitive."""
    if not api_key or not _same(api_key, expected_key):
        return AuthFailure(ACCESS_KEY_INVALID, "api_key not valid")
    if headers.get("stream-auth-type", "").lower() != "jwt":
        return AuthFailure(AUTHENTICATION_ERROR, "stream-auth-type header must be jwt")
    token = headers.get("authorization", "")
    if not token:
        return AuthFailure(AUTHENTICATION_ERROR, "Authorization header is missing")
    if token.lower().startswith("bearer "):
        return AuthFailure(AUTHENTICATION_ERROR, "Authorization takes the bare JWT, no Bearer")
    claims = _claims(token, secret, time.time() if now is None else now)
    if isinstance(claims, AuthFailure):
        return claims
    if not is_server_token(claims):
        return AuthFailure(AUTHENTICATION_ERROR, "a server-side token is required")
    return None


def server_token(secret: str) -> str:
    """The token every official server SDK sends: `{"server": true}`, no expiry."""
    header = _b64encode(orjson.dumps({"alg": "HS256", "typ": "JWT"}))
    payload = _b64encode(orjson.dumps({"server": True}))
    return f"{header}.{payload}.{_b64encode(_hs256(f'{header}.{payload}', secret))}"
