"""Verification: the official Standard Webhooks vector, the independent `standardwebhooks`
package both ways, tolerance, malformed input, rotation, ed25519, and the three formats."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time

import pytest
import standardwebhooks
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from herald import (
    MalformedSignatureError,
    SignatureError,
    SignatureTimestampError,
    Webhook,
    sign,
)

# The vector of the Standard Webhooks specification's reference libraries.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = '{"test": 2432232314}'
VECTOR_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def headers(msg_id: str, ts: int, sig: str) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sig}


def test_official_vector_signs_and_verifies() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIG
    wh = Webhook(VECTOR_SECRET)
    wh.verify_signature(VECTOR_BODY, headers(VECTOR_ID, VECTOR_TS, VECTOR_SIG), now=VECTOR_TS)
    with pytest.raises(SignatureError):
        wh.verify_signature(
            VECTOR_BODY.replace("2", "3"), headers(VECTOR_ID, VECTOR_TS, VECTOR_SIG), now=VECTOR_TS
        )
    with pytest.raises(SignatureTimestampError):
        wh.verify_signature(VECTOR_BODY, headers(VECTOR_ID, VECTOR_TS, VECTOR_SIG))


def test_round_trip_with_the_independent_standardwebhooks_package() -> None:
    body = '{"type":"order.paid","timestamp":"2026-11-25T10:00:00.000Z","data":{"amount":5}}'
    now = dt.datetime.now(tz=dt.timezone.utc)
    theirs = standardwebhooks.Webhook(VECTOR_SECRET)
    sig = theirs.sign("evt_abc", now, body)
    event = Webhook(VECTOR_SECRET).verify(body, headers("evt_abc", int(now.timestamp()), sig))
    assert (event.id, event.type, event.data) == ("evt_abc", "order.paid", {"amount": 5})
    assert event.raw_data == b'{"amount":5}'
    # ours verified by theirs
    ts = int(time.time())
    theirs.verify(body, headers("evt_abc", ts, sign(VECTOR_SECRET, "evt_abc", ts, body)))


def test_tolerance_and_malformed_headers() -> None:
    wh = Webhook(VECTOR_SECRET, tolerance=60)
    ts = int(time.time())
    body = '{"type":"a","data":1}'
    good = sign(VECTOR_SECRET, "evt_1", ts - 50, body)
    wh.verify(body, headers("evt_1", ts - 50, good))
    late = sign(VECTOR_SECRET, "evt_1", ts - 70, body)
    with pytest.raises(SignatureTimestampError):
        wh.verify(body, headers("evt_1", ts - 70, late))
    early = sign(VECTOR_SECRET, "evt_1", ts + 70, body)
    with pytest.raises(SignatureTimestampError):
        wh.verify(body, headers("evt_1", ts + 70, early))
    with pytest.raises(MalformedSignatureError):
        wh.verify(body, {"webhook-id": "evt_1", "webhook-signature": good})
    with pytest.raises(MalformedSignatureError):
        wh.verify(body, headers("evt_1", 0, good) | {"webhook-timestamp": "soon"})
    with pytest.raises(MalformedSignatureError):
        wh.verify(body, headers("evt_1", ts - 50, "garbage"))
    # a signature made for another id does not verify this one
    with pytest.raises(SignatureError) as e:
        wh.verify(body, headers("evt_2", ts - 50, good))
    assert not isinstance(e.value, (MalformedSignatureError, SignatureTimestampError))
    # header names are case-insensitive
    wh.verify(body, {k.upper(): v for k, v in headers("evt_1", ts - 50, good).items()})


def test_any_of_several_secrets_and_signatures_verifies() -> None:
    old = VECTOR_SECRET
    new = "whsec_" + base64.b64encode(b"n" * 32).decode()
    ts = int(time.time())
    body = '{"type":"a","data":{}}'
    both = f"{sign(new, 'evt_1', ts, body)} {sign(old, 'evt_1', ts, body)}"
    assert Webhook(old).verify(body, headers("evt_1", ts, both)).type == "a"
    assert Webhook([new]).verify(body, headers("evt_1", ts, both)).type == "a"
    only_new = sign(new, "evt_1", ts, body)
    Webhook([old, new]).verify(body, headers("evt_1", ts, only_new))
    with pytest.raises(SignatureError):
        Webhook(old).verify(body, headers("evt_1", ts, only_new))


def test_v1a_ed25519_public_keys() -> None:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    public = "whpk_" + base64.b64encode(raw).decode()
    ts = int(time.time())
    body = '{"type":"a","data":2}'
    sig = "v1a," + base64.b64encode(private.sign(f"evt_9.{ts}.{body}".encode())).decode()
    assert Webhook(public).verify(body, headers("evt_9", ts, sig)).data == 2
    with pytest.raises(SignatureError):
        Webhook(public).verify(body + " ", headers("evt_9", ts, sig))
    # an HMAC secret does not accept a v1a signature, nor a public key a v1 one
    with pytest.raises(SignatureError):
        Webhook(VECTOR_SECRET).verify(body, headers("evt_9", ts, sig))
    with pytest.raises(SignatureError):
        Webhook(public).verify(body, headers("evt_9", ts, sign(VECTOR_SECRET, "evt_9", ts, body)))


def test_cloudevents_structured_and_binary() -> None:
    ts = int(time.time())
    structured = json.dumps(
        {
            "specversion": "1.0",
            "id": "evt_7",
            "source": "/herald/apps/app_1",
            "type": "user.created",
            "time": "2026-11-25T10:00:00.000Z",
            "datacontenttype": "application/json",
            "subject": "u/1",
            "data": {"name": "Ann"},
        }
    )
    wh = Webhook(VECTOR_SECRET)
    e = wh.verify(structured, headers("evt_7", ts, sign(VECTOR_SECRET, "evt_7", ts, structured)))
    assert (e.format, e.type, e.subject, e.source) == (
        "cloudevents",
        "user.created",
        "u/1",
        "/herald/apps/app_1",
    )
    assert e.data == {"name": "Ann"}
    binary = b'{"name":"Bo"}'
    h = headers("evt_8", ts, sign(VECTOR_SECRET, "evt_8", ts, binary)) | {
        "ce-specversion": "1.0",
        "ce-id": "evt_8",
        "ce-type": "user.deleted",
        "ce-source": "/herald/apps/app_1",
        "ce-time": "2026-11-25T10:00:00.000Z",
    }
    e = wh.verify(binary, h)
    assert (e.format, e.id, e.type, e.data, e.raw_data) == (
        "cloudevents_binary",
        "evt_8",
        "user.deleted",
        {"name": "Bo"},
        binary,
    )
    not_json = b"nope"
    with pytest.raises(MalformedSignatureError):
        wh.verify(not_json, headers("evt_1", ts, sign(VECTOR_SECRET, "evt_1", ts, not_json)))
