"""The asynchronous client's resources: ``_resources.py`` with ``async def``; both build their
requests in ``_requests.py``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, AsyncIterator, Mapping, Sequence

from .. import _requests as r
from .._base import rfc3339
from ..types import (
    App,
    Attempt,
    BatchReceipt,
    Delivery,
    Endpoint,
    Event,
    EventReceipt,
    EventType,
    Key,
    KeyCreated,
    Page,
    PortalSession,
)

if TYPE_CHECKING:
    from .client import AsyncHerald


class _AsyncResource:
    def __init__(self, client: AsyncHerald) -> None:
        self._client = client


class AsyncApps(_AsyncResource):
    """Applications (tenants): ``client.apps``."""

    async def create(self, name: str, *, uid: str | None = None, metadata: Any = None) -> App:
        """Creates an application; ``uid`` is your own unique slug for it."""
        return await self._client._call(r.create_app(name, uid, metadata))

    async def list(self, *, limit: int | None = None, cursor: str | None = None) -> Page[App]:
        """One page of applications, newest first."""
        return await self._client._page(r.list_apps(limit, cursor))

    def iter(self, *, limit: int | None = None) -> AsyncIterator[App]:
        """Every application, fetching pages as needed."""
        return self._client._iter(r.list_apps(limit, None))

    async def get(self, app: str) -> App:
        """An application by id or uid."""
        return await self._client._call(r.get_app(app))

    async def update(self, app: str, **fields: Any) -> App:
        """Changes the given fields (``name``, ``uid``, ``metadata``)."""
        return await self._client._call(r.update_app(app, fields))

    async def delete(self, app: str) -> None:
        """Deletes the application, its endpoints, and cancels their pending deliveries."""
        await self._client._call(r.delete_app(app))


class AsyncEventTypes(_AsyncResource):
    """Event types and their JSON Schemas: ``client.event_types``."""

    async def create(
        self,
        name: str,
        *,
        description: str | None = None,
        schema: Any = None,
        archived: bool | None = None,
    ) -> EventType:
        """Registers an event type; with ``schema`` every event of it is validated on ingest."""
        return await self._client._call(r.create_event_type(name, description, schema, archived))

    async def list(self, *, limit: int | None = None, cursor: str | None = None) -> Page[EventType]:
        return await self._client._page(r.list_event_types(limit, cursor))

    def iter(self, *, limit: int | None = None) -> AsyncIterator[EventType]:
        return self._client._iter(r.list_event_types(limit, None))

    async def get(self, name: str) -> EventType:
        return await self._client._call(r.get_event_type(name))

    async def update(self, name: str, **fields: Any) -> EventType:
        """Changes ``description``, ``schema`` or ``archived``."""
        return await self._client._call(r.update_event_type(name, fields))

    async def delete(self, name: str) -> None:
        await self._client._call(r.delete_event_type(name))


class AsyncEndpoints(_AsyncResource):
    """An application's endpoints (subscriptions): ``client.endpoints``."""

    async def create(self, app: str, url: str, **fields: Any) -> Endpoint:
        """Creates an endpoint. ``fields`` are the contract's: ``event_types``, ``rate_limit``,
        ``max_in_flight``, ``headers``, ``format`` (including ``"slack"`` and ``"discord"``),
        ``ordered``, ``secret``, ``signature_scheme``, ``description``, ``disabled``,
        ``metadata``, ``filter`` (a CEL expression) and ``transformation``
        (``{"code": "function handler(webhook) {...}", "enabled": True}``)."""
        return await self._client._call(r.create_endpoint(app, url, fields))

    async def list(
        self, app: str, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[Endpoint]:
        return await self._client._page(r.list_endpoints(app, limit, cursor))

    def iter(self, app: str, *, limit: int | None = None) -> AsyncIterator[Endpoint]:
        return self._client._iter(r.list_endpoints(app, limit, None))

    async def get(self, app: str, endpoint_id: str) -> Endpoint:
        return await self._client._call(r.get_endpoint(app, endpoint_id))

    async def update(self, app: str, endpoint_id: str, **fields: Any) -> Endpoint:
        """Changes the given fields; ``None`` clears a field (sent as ``null``)."""
        return await self._client._call(r.update_endpoint(app, endpoint_id, fields))

    async def delete(self, app: str, endpoint_id: str) -> None:
        await self._client._call(r.delete_endpoint(app, endpoint_id))

    async def secret(self, app: str, endpoint_id: str) -> dict[str, str]:
        """``{"secret": "whsec_..."}`` (or ``{"public_key": "whpk_..."}`` for ``v1a``)."""
        return await self._client._call(r.endpoint_secret(app, endpoint_id))

    async def rotate_secret(
        self, app: str, endpoint_id: str, *, secret: str | None = None
    ) -> dict[str, str]:
        """Starts a rotation; the old secret keeps signing during the grace period."""
        return await self._client._call(r.rotate_endpoint_secret(app, endpoint_id, secret))

    async def test(self, app: str, endpoint_id: str) -> dict[str, Any]:
        """Sends one ``herald.ping`` event to this endpoint only."""
        return await self._client._call(r.test_endpoint(app, endpoint_id))

    async def recover(self, app: str, endpoint_id: str, since: str | datetime) -> int:
        """Attempts again every failed or cancelled delivery created at or after ``since``
        (a ``datetime`` or an RFC 3339 string); returns how many were requeued."""
        out = await self._client._call(r.recover_endpoint(app, endpoint_id, rfc3339(since)))
        return int(out["requeued"])

    async def stats(self, app: str, endpoint_id: str) -> dict[str, Any]:
        """Delivery counts by status over the last 24 h and the last attempt."""
        return await self._client._call(r.endpoint_stats(app, endpoint_id))

    async def test_filter(
        self,
        app: str,
        endpoint_id: str,
        *,
        type: str,
        payload: Any,
        filter: str | None = None,
        source: str | None = None,
        subject: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Evaluates ``filter`` (or the endpoint's own) against an event:
        ``{"matches": bool}``, with ``"error"`` when a runtime error made it not match.
        A filter that does not compile raises ``BadRequestError`` (``invalid_filter``).

        >>> client.endpoints.test_filter("acme", "ep_...", type="order.paid",
        ...     payload={"amount": 120}, filter="data.amount >= 100")  # doctest: +SKIP
        {'matches': True}
        """
        body: dict[str, Any] = {"type": type, "payload": payload}
        for key, value in (
            ("filter", filter),
            ("source", source),
            ("subject", subject),
            ("metadata", metadata),
        ):
            if value is not None:
                body[key] = value
        return await self._client._call(r.test_filter(app, endpoint_id, body))

    async def test_transformation(
        self, app: str, endpoint_id: str, *, type: str, payload: Any, code: str | None = None
    ) -> dict[str, Any]:
        """Runs ``code`` (or the endpoint's saved transformation) on an event and returns the
        request that would be sent (``method``, ``url``, ``headers``, ``body``) or
        ``{"cancelled": True}``. A script that throws raises ``BadRequestError`` with code
        ``transformation_error``; code that does not compile, ``invalid_transformation``.

        >>> client.endpoints.test_transformation("acme", "ep_...", type="order.paid",
        ...     payload={"id": 1}, code="function handler(w) { return w; }")  # doctest: +SKIP
        """
        body: dict[str, Any] = {"type": type, "payload": payload}
        if code is not None:
            body["code"] = code
        return await self._client._call(r.test_transformation(app, endpoint_id, body))


class AsyncEvents(_AsyncResource):
    """Sending and reading events: ``client.events``."""

    async def send(
        self,
        app: str,
        type: str,
        payload: Any,
        *,
        endpoint_ids: Sequence[str] | None = None,
        idempotency_key: str | None = None,
        source: str | None = None,
        subject: str | None = None,
        metadata: Any = None,
    ) -> EventReceipt:
        """Same as :meth:`AsyncHerald.send_event`."""
        req = r.send_event(
            app, type, payload, endpoint_ids, idempotency_key, source, subject, metadata
        )
        return await self._client._call(req)

    async def send_batch(self, app: str, items: Sequence[Mapping[str, Any]]) -> BatchReceipt:
        """Same as :meth:`AsyncHerald.send_batch`."""
        return await self._client._call(r.send_batch(app, items))

    async def get(self, app: str, event_id: str) -> Event:
        return await self._client._call(r.get_event(app, event_id))

    async def list(
        self,
        app: str,
        *,
        type: str | None = None,
        after: str | datetime | None = None,
        before: str | datetime | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Event]:
        req = r.list_events(app, type, rfc3339(after), rfc3339(before), limit, cursor)
        return await self._client._page(req)

    def iter(
        self,
        app: str,
        *,
        type: str | None = None,
        after: str | datetime | None = None,
        before: str | datetime | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[Event]:
        req = r.list_events(app, type, rfc3339(after), rfc3339(before), limit, None)
        return self._client._iter(req)


class AsyncDeliveries(_AsyncResource):
    """Deliveries and their attempts: ``client.deliveries``."""

    async def list(
        self,
        app: str,
        *,
        endpoint_id: str | None = None,
        event_id: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Delivery]:
        req = r.list_deliveries(app, endpoint_id, event_id, status, limit, cursor)
        return await self._client._page(req)

    def iter(
        self,
        app: str,
        *,
        endpoint_id: str | None = None,
        event_id: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[Delivery]:
        req = r.list_deliveries(app, endpoint_id, event_id, status, limit, None)
        return self._client._iter(req)

    async def get(self, app: str, delivery_id: str, *, include_payload: bool = False) -> Delivery:
        return await self._client._call(r.get_delivery(app, delivery_id, include_payload))

    async def retry(self, app: str, delivery_id: str) -> None:
        """One more attempt now, whatever the delivery's status."""
        await self._client._call(r.retry_delivery(app, delivery_id))

    async def attempts(
        self, app: str, delivery_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[Attempt]:
        """One page of the delivery's attempts, oldest first."""
        return await self._client._page(r.list_attempts(app, delivery_id, limit, cursor))

    def iter_attempts(
        self, app: str, delivery_id: str, *, limit: int | None = None
    ) -> AsyncIterator[Attempt]:
        return self._client._iter(r.list_attempts(app, delivery_id, limit, None))


class AsyncKeys(_AsyncResource):
    """API keys: ``client.keys``."""

    async def create(self, name: str, scope: str, *, app_id: str | None = None) -> KeyCreated:
        """Creates a key (``admin`` or ``producer``); the secret is in ``key``, only here."""
        return await self._client._call(r.create_key(name, scope, app_id))

    async def list(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Key]:
        return await self._client._page(r.list_keys(limit, cursor))

    def iter(self, *, limit: int | None = None) -> AsyncIterator[Key]:
        return self._client._iter(r.list_keys(limit, None))

    async def revoke(self, key_id: str) -> None:
        """Revokes the key at once."""
        await self._client._call(r.revoke_key(key_id))


class AsyncPortalSessions(_AsyncResource):
    """Customer-portal links: ``client.portal_sessions``."""

    async def create(
        self, app: str, *, expires_in: int | None = None, read_only: bool | None = None
    ) -> PortalSession:
        """A portal link for one application, valid ``expires_in`` seconds (default 3600)."""
        return await self._client._call(r.create_portal_session(app, expires_in, read_only))
