"""Routing verified events to handlers by type."""

from __future__ import annotations

import inspect
from typing import Any, Callable, TypeVar

from .webhook import WebhookEvent

Handler = Callable[[WebhookEvent], Any]
H = TypeVar("H", bound=Handler)


class Dispatcher:
    """Picks the handler for an event: an exact type first, then the longest matching
    ``prefix.*`` pattern, then the ``"*"`` fallback.

    >>> d = Dispatcher()
    >>> @d.on("order.*")
    ... def any_order(event): return "order"
    >>> @d.on("order.paid")
    ... def paid(event): return "paid"
    >>> d.dispatch(WebhookEvent("evt_1", "order.paid", {}, b"{}"))
    'paid'
    >>> d.dispatch(WebhookEvent("evt_2", "order.refunded", {}, b"{}"))
    'order'
    >>> d.dispatch(WebhookEvent("evt_3", "user.created", {}, b"{}")) is None
    True
    """

    def __init__(self) -> None:
        self._exact: dict[str, Handler] = {}
        self._prefixes: list[tuple[str, Handler]] = []
        self._fallback: Handler | None = None

    def on(self, pattern: str) -> Callable[[H], H]:
        """Decorator registering a handler for ``pattern`` (``a.b``, ``a.*`` or ``*``)."""

        def register(handler: H) -> H:
            self.add(pattern, handler)
            return handler

        return register

    def add(self, pattern: str, handler: Handler) -> None:
        """Registers ``handler`` for ``pattern``; a later registration of the same pattern
        replaces the earlier one."""
        if pattern == "*":
            self._fallback = handler
        elif pattern.endswith(".*"):
            prefix = pattern[:-1]  # keeps the dot: "order." matches "order.paid", not "orders"
            self._prefixes = [(p, h) for p, h in self._prefixes if p != prefix]
            self._prefixes.append((prefix, handler))
            self._prefixes.sort(key=lambda ph: len(ph[0]), reverse=True)
        else:
            self._exact[pattern] = handler

    def handler_for(self, event_type: str) -> Handler | None:
        """The handler that would get an event of this type, if any."""
        if event_type in self._exact:
            return self._exact[event_type]
        for prefix, handler in self._prefixes:
            if event_type.startswith(prefix):
                return handler
        return self._fallback

    def dispatch(self, event: WebhookEvent) -> Any:
        """Calls the matching handler and returns what it returns (``None`` when no handler
        matches)."""
        handler = self.handler_for(event.type)
        return handler(event) if handler is not None else None

    async def adispatch(self, event: WebhookEvent) -> Any:
        """Like :meth:`dispatch`, awaiting handlers that are coroutines."""
        result = self.dispatch(event)
        if inspect.isawaitable(result):
            return await result
        return result
