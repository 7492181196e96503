"""Every API operation as a :class:`Request`: paths, bodies and query strings live here once,
for both clients."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ._base import Request, compact, dumps, new_idempotency_key, query, seg
from ._dead_letters import DeadLetter


def _app(app: str) -> str:
    return f"/v1/apps/{seg(app)}"


# -- applications ---------------------------------------------------------------------------


def create_app(name: str, uid: str | None, metadata: Any) -> Request:
    return Request("POST", "/v1/apps", dumps(compact(name=name, uid=uid, metadata=metadata)))


def list_apps(limit: int | None, cursor: str | None) -> Request:
    return Request("GET", "/v1/apps", params=query(limit=limit, cursor=cursor))


def get_app(app: str) -> Request:
    return Request("GET", _app(app))


def update_app(app: str, fields: Mapping[str, Any]) -> Request:
    return Request("PATCH", _app(app), dumps(dict(fields)))


def delete_app(app: str) -> Request:
    return Request("DELETE", _app(app))


# -- event types ----------------------------------------------------------------------------


def create_event_type(
    name: str, description: str | None, schema: Any, archived: bool | None
) -> Request:
    body = compact(name=name, description=description, schema=schema, archived=archived)
    return Request("POST", "/v1/event-types", dumps(body))


def list_event_types(limit: int | None, cursor: str | None) -> Request:
    return Request("GET", "/v1/event-types", params=query(limit=limit, cursor=cursor))


def get_event_type(name: str) -> Request:
    return Request("GET", f"/v1/event-types/{seg(name)}")


def update_event_type(name: str, fields: Mapping[str, Any]) -> Request:
    return Request("PATCH", f"/v1/event-types/{seg(name)}", dumps(dict(fields)))


def delete_event_type(name: str) -> Request:
    return Request("DELETE", f"/v1/event-types/{seg(name)}")


# -- endpoints ------------------------------------------------------------------------------


def _ep(app: str, ep: str) -> str:
    return f"{_app(app)}/endpoints/{seg(ep)}"


def create_endpoint(app: str, url: str, fields: Mapping[str, Any]) -> Request:
    body = {"url": url, **compact(**fields)}
    return Request("POST", f"{_app(app)}/endpoints", dumps(body))


def list_endpoints(app: str, limit: int | None, cursor: str | None) -> Request:
    return Request("GET", f"{_app(app)}/endpoints", params=query(limit=limit, cursor=cursor))


def get_endpoint(app: str, ep: str) -> Request:
    return Request("GET", _ep(app, ep))


def update_endpoint(app: str, ep: str, fields: Mapping[str, Any]) -> Request:
    return Request("PATCH", _ep(app, ep), dumps(dict(fields)))


def delete_endpoint(app: str, ep: str) -> Request:
    return Request("DELETE", _ep(app, ep))


def endpoint_secret(app: str, ep: str) -> Request:
    return Request("GET", f"{_ep(app, ep)}/secret")


def rotate_endpoint_secret(app: str, ep: str, secret: str | None) -> Request:
    return Request("POST", f"{_ep(app, ep)}/secret/rotate", dumps(compact(secret=secret)))


def test_endpoint(app: str, ep: str) -> Request:
    return Request("POST", f"{_ep(app, ep)}/test", b"{}")


def recover_endpoint(app: str, ep: str, since: str) -> Request:
    return Request("POST", f"{_ep(app, ep)}/recover", dumps({"since": since}))


def endpoint_stats(app: str, ep: str) -> Request:
    return Request("GET", f"{_ep(app, ep)}/stats")


def test_filter(app: str, ep: str, body: dict[str, Any]) -> Request:
    return Request("POST", f"{_ep(app, ep)}/filter/test", dumps(body))


def test_transformation(app: str, ep: str, body: dict[str, Any]) -> Request:
    return Request("POST", f"{_ep(app, ep)}/transformation/test", dumps(body))


# -- events ---------------------------------------------------------------------------------


def send_event(
    app: str,
    event_type: str,
    payload: Any,
    endpoint_ids: Sequence[str] | None,
    idempotency_key: str | None,
    source: str | None,
    subject: str | None,
    metadata: Any,
) -> Request:
    body = {"type": event_type, "payload": payload}
    body.update(
        compact(
            endpoint_ids=list(endpoint_ids) if endpoint_ids is not None else None,
            source=source,
            subject=subject,
            metadata=metadata,
        )
    )
    return Request(
        "POST",
        f"{_app(app)}/events",
        dumps(body),
        # Generated when absent, so a retry of this call can never create a second event.
        idempotency_key=idempotency_key or new_idempotency_key(),
        dead_letter=(app, "event"),
    )


def send_batch(app: str, items: Sequence[Mapping[str, Any]]) -> Request:
    prepared = []
    for item in items:
        item = dict(item)
        item.setdefault("idempotency_key", new_idempotency_key())
        prepared.append(item)
    return Request(
        "POST",
        f"{_app(app)}/events/batch",
        # Every item carries its own key, so resending the whole batch creates nothing twice.
        dumps({"items": prepared}),
        dead_letter=(app, "batch"),
    )


def get_event(app: str, event_id: str) -> Request:
    return Request("GET", f"{_app(app)}/events/{seg(event_id)}")


def list_events(
    app: str,
    event_type: str | None,
    after: str | None,
    before: str | None,
    limit: int | None,
    cursor: str | None,
) -> Request:
    params = query(type=event_type, after=after, before=before, limit=limit, cursor=cursor)
    return Request("GET", f"{_app(app)}/events", params=params)


# -- deliveries and attempts ----------------------------------------------------------------


def list_deliveries(
    app: str,
    endpoint_id: str | None,
    event_id: str | None,
    status: str | None,
    limit: int | None,
    cursor: str | None,
) -> Request:
    params = query(
        endpoint_id=endpoint_id, event_id=event_id, status=status, limit=limit, cursor=cursor
    )
    return Request("GET", f"{_app(app)}/deliveries", params=params)


def get_delivery(app: str, delivery_id: str, include_payload: bool) -> Request:
    params = query(include_payload=True) if include_payload else {}
    return Request("GET", f"{_app(app)}/deliveries/{seg(delivery_id)}", params=params)


def retry_delivery(app: str, delivery_id: str) -> Request:
    return Request("POST", f"{_app(app)}/deliveries/{seg(delivery_id)}/retry", b"{}")


def list_attempts(app: str, delivery_id: str, limit: int | None, cursor: str | None) -> Request:
    return Request(
        "GET",
        f"{_app(app)}/deliveries/{seg(delivery_id)}/attempts",
        params=query(limit=limit, cursor=cursor),
    )


# -- keys and portal sessions ---------------------------------------------------------------


def create_key(name: str, scope: str, app_id: str | None) -> Request:
    return Request("POST", "/v1/keys", dumps(compact(name=name, scope=scope, app_id=app_id)))


def list_keys(limit: int | None, cursor: str | None) -> Request:
    return Request("GET", "/v1/keys", params=query(limit=limit, cursor=cursor))


def revoke_key(key_id: str) -> Request:
    return Request("DELETE", f"/v1/keys/{seg(key_id)}")


def create_portal_session(app: str, expires_in: int | None, read_only: bool | None) -> Request:
    body = compact(expires_in=expires_in, read_only=read_only)
    return Request("POST", f"{_app(app)}/portal-sessions", dumps(body))


def with_cursor(req: Request, cursor: str) -> Request:
    return Request(req.method, req.path, req.body, {**req.params, "cursor": cursor})


def replay_dead_letter(letter: DeadLetter) -> Request:
    """The original request of a dead letter: same body, same idempotency key."""
    path = f"{_app(letter.app)}/events" + ("/batch" if letter.kind == "batch" else "")
    return Request("POST", path, letter.body.encode(), idempotency_key=letter.idempotency_key or None)
