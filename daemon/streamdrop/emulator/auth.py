"""Server-side auth as Stream checks it: `api_key` query parameter plus an HS256 JWT.

Codes follow Stream's error table (spec §4.4): 2 for a wrong key, 43 for a bad
signature, 40/41 for an expired or not-yet-valid token, 5 for anything else.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

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


def _claims(token: str, secret: str) -> dict[str, Any] | AuthFailure:
    try:
        claims: dict[str, Any] = jwt.decode(token, secret, algorithms=["HS256"])
    except jwt.InvalidSignatureError:
        return AuthFailure(TOKEN_SIGNATURE_INVALID, "JWT signature is invalid")
    except jwt.ExpiredSignatureError:
        return AuthFailure(TOKEN_EXPIRED, "JWT token expired")
    except jwt.ImmatureSignatureError:
        return AuthFailure(TOKEN_NOT_VALID_YET, "JWT token is not valid yet")
    except jwt.InvalidTokenError:
        return AuthFailure(AUTHENTICATION_ERROR, "JWT token is malformed or not signed with HS256")
    return claims


def is_server_token(claims: Mapping[str, Any]) -> bool:
    """`{"server": true}`, the old PHP `"true"`, or claims without a user (the new SDK's `{}`)."""
    return claims.get("server") in (True, "true") or "user_id" not in claims


def check(
    api_key: str | None, headers: Mapping[str, str], expected_key: str, secret: str
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
    claims = _claims(token, secret)
    if isinstance(claims, AuthFailure):
        return claims
    if not is_server_token(claims):
        return AuthFailure(AUTHENTICATION_ERROR, "a server-side token is required")
    return None


def server_token(secret: str) -> str:
    """The token every official server SDK sends: `{"server": true}`, no expiry."""
    return jwt.encode({"server": True}, secret, algorithm="HS256")
