"""The ways talking to Stream can fail, as one exception tree; callers branch on the class.

    StreamError                    anything below; never raised itself
    ├── CredentialsError           no key, secret or readable secret file (before any request)
    ├── RetryableError             timeouts, connection errors, 5xx, 408: may work later
    │   └── RateLimitedError       429: wait until `reset` (Unix seconds), then try again
    ├── TerminalError              other 4xx, or a body marked `unrecoverable`: do not retry
    │   ├── AuthenticationError    401/403: wrong key or secret, or a refused upload URL
    │   └── NotFoundError          404: no such import task (or upload path)
    ├── ProtocolError              a success answer we cannot read (not JSON, a field missing)
    └── FileChangedError           the file's size changed while it was being uploaded

Stream's error body (`code`, `message`, `StatusCode`, ...) is kept on the
exception as `code`, `message` and `status`; nothing here ever holds the secret,
the JWT or a presigned upload URL, so an exception can be logged as it is.
"""

from __future__ import annotations


class StreamError(Exception):
    """Base of every failure in talking to Stream.

    `status` is the HTTP status (None when no answer came), `code` Stream's
    numeric error code when its body carried one, `message` the readable text.
    """

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"(HTTP {self.status}" + (f", code {self.code})" if self.code is not None
                                                    else ")"))
        return " ".join(parts)


class CredentialsError(StreamError):
    """A credential is missing or unreadable; the message names which one and where to set it."""


class RetryableError(StreamError):
    """The request did not succeed, but the same request may succeed later."""


class RateLimitedError(RetryableError):
    """Stream answered 429: the endpoint's budget is spent until `reset` (Unix seconds, or None)."""

    def __init__(
        self,
        message: str,
        *,
        reset: float | None,
        status: int | None = 429,
        code: int | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.reset = reset


class TerminalError(StreamError):
    """Stream refused the request; sending it again unchanged will not help."""


class AuthenticationError(TerminalError):
    """The API key, the secret (the JWT) or the upload URL's token was refused."""


class NotFoundError(TerminalError):
    """The thing asked for does not exist."""


class ProtocolError(StreamError):
    """A success answer that does not look like Stream's (not JSON, or a required field missing)."""


class FileChangedError(StreamError):
    """The file's size changed during the upload, so the bytes sent are not the file's."""
