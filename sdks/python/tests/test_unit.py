"""Unit tests: backoff, redaction, dead-letter files, settings, the dispatcher."""

from __future__ import annotations

import datetime as dt

import pytest

from herald import (
    ConfigError,
    DeadLetter,
    Dispatcher,
    Herald,
    JsonlDeadLetters,
    RetryPolicy,
    WebhookEvent,
    redact,
)
from herald._base import rfc3339


def test_full_jitter_stays_under_the_capped_exponential_and_is_random() -> None:
    p = RetryPolicy(max_retries=5, base=0.1, cap=1.0)
    for retry in range(1, 9):
        ceiling = min(1.0, 0.1 * 2 ** (retry - 1))
        delays = [p.delay(retry) for _ in range(300)]
        assert all(0.0 <= d <= ceiling for d in delays)
        # full jitter: spread over the whole range, not clustered at the ceiling
        assert min(delays) < ceiling * 0.2 and max(delays) > ceiling * 0.8
    assert len({p.delay(3) for _ in range(50)}) > 40


def test_retry_after_is_a_floor_not_a_ceiling() -> None:
    p = RetryPolicy(base=0.1, cap=0.2)
    assert p.delay(1, retry_after=5.0) == 5.0
    big = RetryPolicy(base=100.0, cap=100.0)
    assert any(big.delay(1, retry_after=0.5) > 0.5 for _ in range(20))


def test_redaction_hides_emails_and_phones_but_not_amounts() -> None:
    assert redact("mail a.b+c@mail.example.org now") == "mail [email] now"
    assert redact("call (555) 123-4567 or 0044.20.7946.0958") == "call [phone] or [phone]"
    assert redact("+1 415 555 2671") == "[phone]"
    untouched = '{"amount": 1250, "id": 42, "date": "2026-11-25"}'
    assert redact(untouched) == untouched


def test_jsonl_dead_letters_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    sink = JsonlDeadLetters(tmp_path / "dead.jsonl")
    assert sink.read() == []
    a = DeadLetter("app_1", '{"type":"a","payload":{"é":1}}', "k1", "event", "boom")
    b = DeadLetter("app_2", '{"items":[]}', "", "batch", "timeout")
    sink(a)
    sink(b)
    assert sink.read() == [a, b]


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HERALD_API_KEY", raising=False)
    monkeypatch.delenv("HERALD_URL", raising=False)
    with pytest.raises(ConfigError):
        Herald()
    monkeypatch.setenv("HERALD_API_KEY", "hrd_fromenv")
    monkeypatch.setenv("HERALD_URL", "http://127.0.0.1:9/")
    with Herald() as c:
        assert c._settings.base_url == "http://127.0.0.1:9"
        assert c._settings.api_key == "hrd_fromenv"
    with pytest.raises(ConfigError):
        Herald("k", base_url="ftp://x")
    with pytest.raises(ConfigError):
        Herald("k", max_retries=-1)
    c = Herald("k", max_retries=7)
    assert c._settings.retry.max_retries == 7
    c.close()
    c.close()  # twice is fine


def test_rfc3339_formats_datetimes_in_utc_with_milliseconds() -> None:
    t = dt.datetime(2026, 11, 22, 15, 3, 7, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert rfc3339(t) == "2026-11-22T14:03:07.123Z"
    assert rfc3339("2026-01-01T00:00:00Z") == "2026-01-01T00:00:00Z"
    with pytest.raises(TypeError):
        rfc3339(12)


def _event(t: str) -> WebhookEvent:
    return WebhookEvent("evt_1", t, {}, b"{}")


def test_dispatcher_prefers_exact_then_longest_prefix_then_fallback() -> None:
    d = Dispatcher()
    calls: list[str] = []
    d.on("order.*")(lambda e: calls.append("order.*"))
    d.on("order.line.*")(lambda e: calls.append("order.line.*"))
    d.on("order.paid")(lambda e: calls.append("order.paid"))
    for t in ["order.paid", "order.line.added", "order.refunded", "orders.x", "user.created"]:
        d.dispatch(_event(t))
    assert calls == ["order.paid", "order.line.*", "order.*"]
    d.on("*")(lambda e: calls.append("*"))
    d.dispatch(_event("orders.x"))
    assert calls[-1] == "*"


def test_dispatcher_awaits_async_handlers() -> None:
    import asyncio

    d = Dispatcher()

    @d.on("a.b")
    async def handler(event: WebhookEvent) -> str:
        return "async:" + event.type

    assert asyncio.run(d.adispatch(_event("a.b"))) == "async:a.b"
