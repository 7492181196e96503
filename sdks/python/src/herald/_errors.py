"""The SDK's exceptions: one class per error class of the Herald API contract."""

from __future__ import annotations

from typing import Any


class HeraldError(Exception):
    """Base class of every error this package raises."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: The HTTP status, when the server answered.
        self.status = status
        #: The contract's error ``type`` (``invalid_request``, ``conflict`` ...).
        self.type = type
        #: The contract's error ``code`` (``schema_violation``, ``idempotency_conflict`` ...).
        self.code = code
        #: The request field the error is about, when the server names one.
        self.param = param
        #: Seconds the server asked us to wait (``Retry-After``), if any.
        self.retry_after = retry_after
        #: The decoded error body (or raw text) as the server sent it.
        self.body = body

    #: False only when the request certainly never reached the server (a refused
    #: connection): then even a write without an idempotency key may be sent again.
    request_sent: bool = True

    @property
    def retryable(self) -> bool:
        """Whether sending the same request again may succeed."""
        return False


class ConfigError(HeraldError):
    """The client is missing its base URL or API key, or got an invalid setting."""


class ConnectionError(HeraldError):  # noqa: A001 - the contract's name
    """The connection to the server failed (refused, reset, DNS)."""

    @property
    def retryable(self) -> bool:
        return True


class TimeoutError(HeraldError):  # noqa: A001
    """No answer within the client's timeout."""

    @property
    def retryable(self) -> bool:
        return True


class APIStatusError(HeraldError):
    """The server answered with a non-2xx status."""


class BadRequestError(APIStatusError):
    """400 (or 415): malformed request, invalid field (``param``) or schema violation (``code``)."""


class AuthenticationError(APIStatusError):
    """401: missing or unknown API key."""


class PermissionError(APIStatusError):  # noqa: A001
    """403: the key lacks the scope."""


class NotFoundError(APIStatusError):
    """404: unknown object, or one outside the key's scope."""


class ConflictError(APIStatusError):
    """409: idempotency key reused with other bytes, or a duplicate name/uid."""


class PayloadTooLargeError(APIStatusError):
    """413: the body is over the server's limit."""


class RateLimitError(APIStatusError):
    """429: over a rate limit; ``retry_after`` says how long to wait."""

    @property
    def retryable(self) -> bool:
        return True


class ServerError(APIStatusError):
    """5xx, 408, 425 or any other unexpected status."""

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status >= 500 or self.status in (408, 425)


class RetryError(HeraldError):
    """Every attempt failed with a retryable error; the last one is ``__cause__``."""

    def __init__(self, message: str, *, attempts: int, last: HeraldError) -> None:
        super().__init__(
            message,
            status=last.status,
            type=last.type,
            code=last.code,
            param=last.param,
            retry_after=last.retry_after,
            body=last.body,
        )
        #: How many attempts were made.
        self.attempts = attempts
        #: The last attempt's error (also ``__cause__``).
        self.last = last


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    415: BadRequestError,
    401: AuthenticationError,
    403: PermissionError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    429: RateLimitError,
}


def error_for_status(status: int, body: Any, retry_after: float | None) -> APIStatusError:
    """Maps a non-2xx answer to its exception; ``body`` is the decoded JSON or the raw text."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        err = {}
    message = err.get("message") or (body if isinstance(body, str) and body else f"HTTP {status}")
    cls = _BY_STATUS.get(status, ServerError)
    return cls(
        f"{status} {err.get('type', 'error')}: {message}",
        status=status,
        type=err.get("type"),
        code=err.get("code"),
        param=err.get("param"),
        retry_after=retry_after,
        body=body,
    )
