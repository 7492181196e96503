"""Redaction of personal data (e-mail addresses, phone numbers) in logged payloads."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# A run of at least 7 digits, optionally led by + and broken by spaces, dots, dashes or
# parentheses: phone numbers as people write them. Errs on the side of redacting.
_PHONE = re.compile(r"\+?\(?\d(?:[\s().-]*\d){6,}")
# ISO dates (2026-11-25) look like phone numbers to the pattern above; they are kept.
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _phone(m: re.Match[str]) -> str:
    return m.group(0) if _DATE.fullmatch(m.group(0)) else "[phone]"


def redact(text: str) -> str:
    """Replaces e-mail addresses with ``[email]`` and phone numbers with ``[phone]``.

    >>> redact('{"to": "ann@example.com", "tel": "+44 20 7946 0958", "qty": 3}')
    '{"to": "[email]", "tel": "[phone]", "qty": 3}'
    """
    return _PHONE.sub(_phone, _EMAIL.sub("[email]", text))
