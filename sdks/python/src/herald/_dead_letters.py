"""Where sends that finally failed go, so they can be replayed later without duplicates."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from typing import Any, Callable, Union


@dataclass(frozen=True)
class DeadLetter:
    """One event that could not be sent. Replaying it reuses ``idempotency_key``, so an event
    the server did commit (the answer was lost) is not sent twice."""

    app: str
    #: The exact request body (JSON text) that was sent.
    body: str
    idempotency_key: str
    #: ``"event"`` for ``send_event``, ``"batch"`` for ``send_batch``.
    kind: str
    #: The last error, as text.
    error: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> DeadLetter:
        data: dict[str, Any] = json.loads(line)
        return cls(**data)


class JsonlDeadLetters:
    """Appends dead letters to a JSON Lines file, one per line (safe across threads).

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "dead.jsonl")
    >>> sink = JsonlDeadLetters(path)
    >>> sink(DeadLetter("app_1", '{"type":"a"}', "k1", "event", "timeout"))
    >>> [d.idempotency_key for d in sink.read()]
    ['k1']
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()

    def __call__(self, letter: DeadLetter) -> None:
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(letter.to_json() + "\n")
            f.flush()
            os.fsync(f.fileno())

    def read(self) -> list[DeadLetter]:
        """Every dead letter in the file (none when it does not exist)."""
        return read_dead_letters(self.path)


def read_dead_letters(path: str | os.PathLike[str]) -> list[DeadLetter]:
    """Reads a JSON Lines dead-letter file written by :class:`JsonlDeadLetters`."""
    try:
        with open(path, encoding="utf-8") as f:
            return [DeadLetter.from_json(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


#: A dead-letter sink: a JSONL file path or any callable taking a :class:`DeadLetter`.
DeadLetterSink = Union[str, "os.PathLike[str]", Callable[[DeadLetter], None]]


def make_sink(sink: DeadLetterSink | None) -> Callable[[DeadLetter], None] | None:
    if sink is None or callable(sink):
        return sink
    return JsonlDeadLetters(sink)


@dataclass
class ReplayReport:
    """What :meth:`Herald.replay_dead_letters` did."""

    #: Receipts of the letters that went through (``replayed`` is true when the server already
    #: had the event).
    sent: list[dict[str, Any]]
    #: Letters that failed again, with the error.
    failed: list[tuple[DeadLetter, Exception]]
