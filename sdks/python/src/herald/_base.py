"""What the sync and async clients share: settings, request building, answer decoding."""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, TypeVar, overload
from urllib.parse import quote

import httpx

from ._dead_letters import DeadLetter, DeadLetterSink, make_sink, read_dead_letters
from ._errors import (
    ConfigError,
    ConnectionError,
    HeraldError,
    RateLimitError,
    RetryError,
    TimeoutError,
    error_for_status,
)
from ._redact import redact
from ._retry import RetryPolicy
from ._version import __version__
from .types import Page

log = logging.getLogger("herald")

DEFAULT_TIMEOUT = 30.0


@dataclass
class Request:
    """One API call, built once: every retry sends exactly these bytes."""

    method: str
    path: str
    body: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    #: Set for event sends, so a final failure can go to the dead-letter sink.
    dead_letter: tuple[str, str] | None = None  # (app, kind)

    def __post_init__(self) -> None:
        # Every POST carries an idempotency key, kept for all its retries: the server answers
        # a repeat with the first answer, so a retry never creates or rotates twice.
        if self.method == "POST" and self.idempotency_key is None:
            self.idempotency_key = new_idempotency_key()


def seg(value: str) -> str:
    """A path segment, escaped."""
    return quote(str(value), safe="")


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def compact(**fields: Any) -> dict[str, Any]:
    """The given fields without those left as ``None`` (absent in the request)."""
    return {k: v for k, v in fields.items() if v is not None}


def new_idempotency_key() -> str:
    return f"sdk_{uuid.uuid4().hex}"


def query(**params: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in params.items():
        if v is None:
            continue
        out[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return out


class Settings:
    """Resolved client settings (arguments first, then ``HERALD_URL``/``HERALD_API_KEY``)."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        timeout: float,
        max_retries: int | None,
        retry_policy: RetryPolicy | None,
        dead_letters: DeadLetterSink | None,
        redact_logs: bool,
    ) -> None:
        api_key = api_key or os.environ.get("HERALD_API_KEY")
        base_url = base_url or os.environ.get("HERALD_URL") or "http://127.0.0.1:8080"
        if not api_key:
            raise ConfigError("no API key: pass api_key= or set HERALD_API_KEY")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://, got {base_url!r}")
        if timeout <= 0:
            raise ConfigError("timeout must be positive")
        policy = retry_policy or RetryPolicy()
        if max_retries is not None:
            if max_retries < 0:
                raise ConfigError("max_retries must be >= 0")
            policy = RetryPolicy(max_retries=max_retries, base=policy.base, cap=policy.cap)
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = policy
        self.dead_letters: Callable[[DeadLetter], None] | None = make_sink(dead_letters)
        self.redact_logs = redact_logs

    def headers(self) -> dict[str, str]:
        return {
            "authorization": f"Bearer {self.api_key}",
            "user-agent": f"herald-python/{__version__}",
            "accept": "application/json",
        }

    def build(self, req: Request) -> tuple[str, str, dict[str, str], bytes | None, dict[str, str]]:
        headers: dict[str, str] = {}
        if req.body is not None:
            headers["content-type"] = "application/json"
        if req.idempotency_key is not None:
            headers["idempotency-key"] = req.idempotency_key
        return req.method, self.base_url + req.path, headers, req.body, req.params

    def log_send(self, req: Request) -> None:
        if req.body is not None and req.dead_letter and log.isEnabledFor(logging.DEBUG):
            text = req.body.decode("utf-8", "replace")
            log.debug(
                "sending %s to app %s: %s",
                req.dead_letter[1],
                req.dead_letter[0],
                redact(text) if self.redact_logs else text,
            )

    def dead_letter(self, req: Request, err: HeraldError) -> None:
        """Hands a finally-failed send to the sink, when one is set and a later try could work."""
        if self.dead_letters is None or req.dead_letter is None or req.body is None:
            return
        if not (err.retryable or isinstance(err, RetryError)):
            return  # a 400/409/413 would fail again
        app, kind = req.dead_letter
        self.dead_letters(
            DeadLetter(
                app=app,
                body=req.body.decode(),
                idempotency_key=req.idempotency_key or "",
                kind=kind,
                error=str(err),
            )
        )


HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)


def http_client_for(settings: Settings, given: HttpT | None, cls: type[HttpT]) -> HttpT:
    """The caller's httpx client with our headers added, or a new one of ``cls``."""
    if given is not None:
        given.headers.update(settings.headers())
        return given
    return cls(timeout=settings.timeout, headers=settings.headers(), follow_redirects=False)


def to_page(out: Any) -> Page[Any]:
    """A list answer (``{"data": [...], "next_cursor": ...}``) as a :class:`Page`."""
    return Page(data=list(out["data"]), next_cursor=out.get("next_cursor"))


def dead_letters_from(letters: str | os.PathLike[str] | Iterable[DeadLetter]) -> Iterable[DeadLetter]:
    """A JSONL dead-letter file's letters, or the given letters."""
    if isinstance(letters, (str, os.PathLike)):
        return read_dead_letters(letters)
    return letters


def may_repeat(req: Request, err: HeraldError) -> bool:
    """Whether sending ``req`` again cannot do its work twice: reads, deletes and updates;
    writes that carry an idempotency key (every POST: see ``Request``); and any request the
    server did not act on (a refused connection, a 429). A write without a key whose answer
    was lost is not sent again: it may have happened, and a second one would make a second
    endpoint (so duplicate deliveries) or rotate twice."""
    if req.method in ("GET", "HEAD", "DELETE", "PATCH") or req.idempotency_key is not None:
        return True
    return isinstance(err, RateLimitError) or not err.request_sent


def after_failure(settings: Settings, req: Request, err: HeraldError, attempt: int) -> float:
    """Seconds to wait before attempt ``attempt + 1``; or, when this was the last one (or
    another could do the work twice), hands the request to the dead-letter sink and raises
    the final error."""
    if not may_repeat(req, err):
        raise err
    if err.retryable and attempt <= settings.retry.max_retries:
        delay = settings.retry.delay(attempt, err.retry_after)
        log.debug("retrying %s %s in %.2fs: %s", req.method, req.path, delay, err)
        return delay
    final = _give_up(err, attempt, settings.retry)
    settings.dead_letter(req, final)
    raise final


def transport_error(exc: httpx.TransportError) -> HeraldError:
    if isinstance(exc, httpx.ConnectTimeout):
        err: HeraldError = TimeoutError(f"timed out connecting: {exc}")
    elif isinstance(exc, httpx.TimeoutException):
        return TimeoutError(f"timed out: {exc}")
    else:
        err = ConnectionError(f"connection failed: {exc}")
    # Refused or never connected: the server cannot have seen the request.
    err.request_sent = not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
    return err


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None


def decode(response: httpx.Response) -> Any:
    """The answer's JSON, or raises the matching :class:`HeraldError`."""
    if 200 <= response.status_code < 300:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as e:
            raise HeraldError(f"invalid JSON in the answer: {e}", status=response.status_code)
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    raise error_for_status(
        response.status_code, body, retry_after_seconds(response.headers)
    )


def _give_up(err: HeraldError, attempt: int, policy: RetryPolicy) -> HeraldError:
    if err.retryable and policy.max_retries > 0:
        final = RetryError(f"gave up after {attempt} attempts: {err}", attempts=attempt, last=err)
        final.__cause__ = err
        return final
    return err


@overload
def rfc3339(value: None) -> None: ...
@overload
def rfc3339(value: str | datetime) -> str: ...


def rfc3339(value: str | datetime | None) -> str | None:
    """A ``datetime`` as the contract's RFC 3339 UTC text (milliseconds); strings pass through."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        utc = value.astimezone(timezone.utc)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    raise TypeError(f"expected a datetime or an RFC 3339 string, got {type(value).__name__}")
