"""Receiving webhooks: signature verification (Standard Webhooks) and event parsing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ._errors import HeraldError

DEFAULT_TOLERANCE = 300.0


class SignatureError(HeraldError):
    """The request is not signed by any of the given secrets (or is not a webhook at all)."""


class MalformedSignatureError(SignatureError):
    """A ``webhook-*`` header is missing or unreadable, or the body is not the expected JSON."""


class SignatureTimestampError(SignatureError):
    """``webhook-timestamp`` is outside the tolerance (a replay, or a wrong clock)."""


@dataclass(frozen=True)
class WebhookEvent:
    """A verified event, whatever the delivery format."""

    #: The event id (``webhook-id``): the same on every retry; dedupe by it.
    id: str
    #: The event type, e.g. ``order.paid``.
    type: str
    #: The payload, parsed.
    data: Any
    #: The payload's bytes exactly as the producer sent them.
    raw_data: bytes = field(repr=False)
    #: When the event was created (RFC 3339), if the delivery says.
    time: str | None = None
    source: str | None = None
    subject: str | None = None
    #: ``standard_webhooks``, ``cloudevents`` or ``cloudevents_binary``.
    format: str = "standard_webhooks"


class _Key:
    def __init__(self, secret: str) -> None:
        self.ed25519: Any = None
        self.hmac_key: bytes | None = None
        try:
            if secret.startswith("whpk_"):
                self.ed25519 = _ed25519_public_key(base64.b64decode(secret[5:], validate=True))
            else:
                raw = secret[6:] if secret.startswith("whsec_") else secret
                self.hmac_key = base64.b64decode(raw, validate=True)
        except ValueError as e:
            raise MalformedSignatureError(f"invalid secret: {e}") from e

    def matches(self, content: bytes, signatures: list[tuple[str, str]]) -> bool:
        for version, sig in signatures:
            try:
                raw = base64.b64decode(sig, validate=True)
            except ValueError:
                continue
            if version == "v1" and self.hmac_key is not None:
                expected = hmac.new(self.hmac_key, content, hashlib.sha256).digest()
                if hmac.compare_digest(expected, raw):
                    return True
            elif version == "v1a" and self.ed25519 is not None:
                if _ed25519_ok(self.ed25519, raw, content):
                    return True
        return False


def _ed25519_public_key(raw: bytes) -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise HeraldError(
            "whpk_ keys (v1a signatures) need the cryptography package: "
            "pip install 'herald-webhooks[ed25519]'"
        ) from e
    return Ed25519PublicKey.from_public_bytes(raw)


def _ed25519_ok(key: Any, signature: bytes, content: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(signature, content)
        return True
    except InvalidSignature:
        return False


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) for a body; for tests and tools.

    >>> sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
    ...      1614265330, '{"test": 2432232314}')
    'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
    """
    key = _Key(secret).hmac_key
    if key is None:
        raise HeraldError("sign() takes a whsec_ secret")
    body_bytes = body.encode() if isinstance(body, str) else body
    content = f"{msg_id}.{timestamp}.".encode() + body_bytes
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


class Webhook:
    """Verifies deliveries signed with one of several secrets (``whsec_`` for v1 HMAC,
    ``whpk_`` public keys for v1a ed25519); give both during a rotation.

    >>> wh = Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    >>> body = '{"type":"order.paid","timestamp":"2026-11-22T14:03:07.123Z","data":{"n":1}}'
    >>> ts = int(time.time())
    >>> headers = {"webhook-id": "evt_1", "webhook-timestamp": str(ts),
    ...            "webhook-signature": sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "evt_1", ts, body)}
    >>> wh.verify(body, headers).data
    {'n': 1}
    """

    def __init__(
        self, secrets: str | Sequence[str], *, tolerance: float = DEFAULT_TOLERANCE
    ) -> None:
        if isinstance(secrets, str):
            secrets = [secrets]
        if not secrets:
            raise HeraldError("Webhook needs at least one secret")
        self._keys = [_Key(s) for s in secrets]
        self.tolerance = tolerance

    def verify_signature(
        self, body: bytes | str, headers: Mapping[str, str], *, now: float | None = None
    ) -> None:
        """Checks the signature and timestamp only; raises a :class:`SignatureError`."""
        h = _lower(headers)
        msg_id = h.get("webhook-id")
        ts_text = h.get("webhook-timestamp")
        sig_header = h.get("webhook-signature")
        if not msg_id or not ts_text or not sig_header:
            raise MalformedSignatureError(
                "missing webhook-id, webhook-timestamp or webhook-signature header"
            )
        try:
            ts = int(ts_text)
        except ValueError as e:
            raise MalformedSignatureError(f"webhook-timestamp is not a number: {ts_text!r}") from e
        current = time.time() if now is None else now
        if abs(current - ts) > self.tolerance:
            raise SignatureTimestampError(
                f"webhook-timestamp {ts} is {int(current - ts)} s away from now "
                f"(tolerance {int(self.tolerance)} s)"
            )
        signatures = []
        for part in sig_header.split():
            version, sep, value = part.partition(",")
            if sep:
                signatures.append((version, value))
        if not signatures:
            raise MalformedSignatureError("webhook-signature holds no version,signature pair")
        body_bytes = body.encode() if isinstance(body, str) else bytes(body)
        content = f"{msg_id}.{ts}.".encode() + body_bytes
        if not any(k.matches(content, signatures) for k in self._keys):
            raise SignatureError("no signature matches the secret(s)")

    def verify(
        self, body: bytes | str, headers: Mapping[str, str], *, now: float | None = None
    ) -> WebhookEvent:
        """Verifies the request and parses it into a :class:`WebhookEvent` (Herald's format,
        CloudEvents structured or binary). Raises a :class:`SignatureError` subclass."""
        self.verify_signature(body, headers, now=now)
        body_bytes = body.encode() if isinstance(body, str) else bytes(body)
        return parse_event(body_bytes, headers)


def parse_event(body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
    """Parses a delivery (already verified) into a :class:`WebhookEvent`.

    >>> parse_event(b'{"a":1}', {"ce-id": "evt_1", "ce-type": "t.x", "ce-specversion": "1.0"}).type
    't.x'
    """
    h = _lower(headers)
    if "ce-specversion" in h:
        return WebhookEvent(
            id=h.get("ce-id") or h.get("webhook-id", ""),
            type=_required(h.get("ce-type"), "ce-type header"),
            data=_json(body),
            raw_data=body,
            time=h.get("ce-time"),
            source=h.get("ce-source"),
            subject=h.get("ce-subject"),
            format="cloudevents_binary",
        )
    doc = _json(body)
    if not isinstance(doc, dict):
        raise MalformedSignatureError("the body is not a JSON object")
    raw_data = _raw_member(body, "data")
    if "specversion" in doc:
        return WebhookEvent(
            id=str(doc.get("id") or h.get("webhook-id", "")),
            type=_required(doc.get("type"), "type"),
            data=doc.get("data"),
            raw_data=raw_data,
            time=doc.get("time"),
            source=doc.get("source"),
            subject=doc.get("subject"),
            format="cloudevents",
        )
    return WebhookEvent(
        id=h.get("webhook-id", ""),
        type=_required(doc.get("type"), "type"),
        data=doc.get("data"),
        raw_data=raw_data,
        time=doc.get("timestamp"),
        format="standard_webhooks",
    )


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as e:
        raise MalformedSignatureError(f"the body is not JSON: {e}") from e


def _required(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise MalformedSignatureError(f"the delivery has no {what}")
    return value


def _raw_member(body: bytes, name: str) -> bytes:
    """The bytes of a top-level member's value, as sent (``data`` is never re-encoded by
    Herald, so these are the producer's bytes)."""
    text = body.decode("utf-8")
    decoder = json.JSONDecoder()
    i = text.index("{") + 1
    while True:
        while text[i] in " \t\r\n,":
            i += 1
        if text[i] == "}":
            return b"null"
        key, i = decoder.raw_decode(text, i)
        while text[i] in " \t\r\n:":
            i += 1
        _, end = decoder.raw_decode(text, i)
        if key == name:
            return text[i:end].encode()
        i = end
