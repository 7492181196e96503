"""The API's objects as typed dictionaries: values are the server's JSON, unchanged."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, List, Optional, TypedDict, TypeVar

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` for the next one."""

    data: List[T] = field(default_factory=list)
    next_cursor: Optional[str] = None


class App(TypedDict, total=False):
    id: str
    uid: Optional[str]
    name: str
    metadata: Any
    created_at: str
    updated_at: str


class EventType(TypedDict, total=False):
    id: str
    name: str
    description: Optional[str]
    schema: Any
    archived: bool
    created_at: str
    updated_at: str


class Endpoint(TypedDict, total=False):
    id: str
    app_id: str
    url: str
    description: Optional[str]
    event_types: Optional[List[str]]
    status: str
    disabled_reason: Optional[str]
    rate_limit: Optional[int]
    max_in_flight: int
    headers: dict[str, str]
    format: str
    ordered: bool
    signature_scheme: str
    metadata: Any
    filter: Optional[str]
    transformation: Optional[dict[str, Any]]
    created_at: str
    updated_at: str


class DeliverySummary(TypedDict, total=False):
    id: str
    endpoint_id: str
    status: str
    attempts: int
    next_attempt_at: Optional[str]


class EventReceipt(TypedDict, total=False):
    id: str
    type: str
    replayed: bool
    deliveries: List[DeliverySummary]


class Event(TypedDict, total=False):
    id: str
    app_id: str
    type: str
    payload: Any
    source: Optional[str]
    subject: Optional[str]
    metadata: Any
    created_at: str
    deliveries: List[DeliverySummary]


class BatchItemResult(TypedDict, total=False):
    index: int
    id: str
    type: str
    replayed: bool
    deliveries: List[DeliverySummary]
    error: dict[str, Any]


class BatchReceipt(TypedDict, total=False):
    items: List[BatchItemResult]


class Delivery(TypedDict, total=False):
    id: str
    event_id: str
    endpoint_id: str
    status: str
    attempts: int
    next_attempt_at: Optional[str]
    last_attempt_at: Optional[str]
    last_status_code: Optional[int]
    created_at: str
    payload: Any


class AttemptError(TypedDict):
    kind: str
    message: str


class Attempt(TypedDict, total=False):
    id: str
    number: int
    started_at: str
    duration_ms: int
    status_code: Optional[int]
    response_body: Optional[str]
    error: Optional[AttemptError]


class Key(TypedDict, total=False):
    id: str
    name: str
    scope: str
    app_id: Optional[str]
    created_at: str


class KeyCreated(Key, total=False):
    key: str


class PortalSession(TypedDict, total=False):
    url: str
    token: str
    expires_at: str
