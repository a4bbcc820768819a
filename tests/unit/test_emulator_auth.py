"""The emulator's auth check: Stream's api_key + HS256 server JWT rules and error codes."""

from __future__ import annotations

import base64

import jwt
import pytest

from streamdrop.emulator import auth

KEY, SECRET = "k", "a-secret-long-enough-for-hs256-and-hs512-" * 2


def headers(token: str, auth_type: str = "jwt") -> dict[str, str]:
    return {"authorization": token, "stream-auth-type": auth_type}


def code(api_key: str | None, hdrs: dict[str, str], now: float | None = None) -> int | None:
    failure = auth.check(api_key, hdrs, KEY, SECRET, now)
    return None if failure is None else failure.code


def test_official_sdk_server_token_is_accepted() -> None:
    token = jwt.encode({"server": True}, SECRET, algorithm="HS256")
    assert code(KEY, headers(token)) is None


@pytest.mark.parametrize("claims", [{}, {"server": "true"}, {"server": True, "iat": 1}])
def test_token_variants_of_other_sdks_are_accepted(claims: dict[str, object]) -> None:
    assert code(KEY, headers(jwt.encode(claims, SECRET, algorithm="HS256"))) is None


def test_own_server_token_matches_pyjwt() -> None:
    token = auth.server_token(SECRET)
    assert jwt.decode(token, SECRET, algorithms=["HS256"]) == {"server": True}


def test_wrong_or_missing_key_is_code_2() -> None:
    token = auth.server_token(SECRET)
    assert code("other", headers(token)) == auth.ACCESS_KEY_INVALID
    assert code(None, headers(token)) == auth.ACCESS_KEY_INVALID


def test_bad_signature_is_code_43() -> None:
    assert code(KEY, headers(auth.server_token("another-secret-" * 3))) == 43


@pytest.mark.parametrize(
    "hdrs",
    [
        headers(auth.server_token(SECRET), auth_type="anonymous"),
        {"authorization": auth.server_token(SECRET)},
        headers(""),
        headers("Bearer " + auth.server_token(SECRET)),
        headers("not.a.jwt"),
        headers("onlyonepart"),
        headers(jwt.encode({"server": True}, SECRET, algorithm="HS512")),
        headers(jwt.encode({"user_id": "alice"}, SECRET, algorithm="HS256")),
    ],
    ids=["auth-type", "no-auth-type", "empty", "bearer", "garbage", "one-part", "hs512", "user"],
)
def test_other_refusals_are_code_5(hdrs: dict[str, str]) -> None:
    assert code(KEY, hdrs) == auth.AUTHENTICATION_ERROR


def test_alg_none_is_refused() -> None:
    def part(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    token = part(b'{"alg":"none"}') + "." + part(b'{"server":true}') + "."
    assert code(KEY, headers(token)) == auth.AUTHENTICATION_ERROR


def test_expired_and_not_yet_valid_tokens() -> None:
    expired = jwt.encode({"server": True, "exp": 100}, SECRET, algorithm="HS256")
    future = jwt.encode({"server": True, "nbf": 300}, SECRET, algorithm="HS256")
    assert code(KEY, headers(expired), now=200) == auth.TOKEN_EXPIRED
    assert code(KEY, headers(future), now=200) == auth.TOKEN_NOT_VALID_YET
