"""Herald for Python: a client for the Herald webhook server, and tools to receive and verify
what it delivers.

    from herald import Herald, Webhook
    with Herald("hrd_...", base_url="http://127.0.0.1:8080") as herald:
        herald.send_event("my-app", "order.paid", {"amount": 1250})
"""

from ._async.client import AsyncHerald
from ._sync.client import Herald
from ._dead_letters import DeadLetter, JsonlDeadLetters, ReplayReport, read_dead_letters
from ._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    ConflictError,
    ConnectionError,
    HeraldError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionError,
    RateLimitError,
    RetryError,
    ServerError,
    TimeoutError,
)
from ._redact import redact
from ._retry import RetryPolicy
from ._version import __version__
from .dispatch import Dispatcher
from .types import Page
from .webhook import (
    MalformedSignatureError,
    SignatureError,
    SignatureTimestampError,
    Webhook,
    WebhookEvent,
    parse_event,
    sign,
)

__all__ = [
    "APIStatusError",
    "AsyncHerald",
    "AuthenticationError",
    "BadRequestError",
    "ConfigError",
    "ConflictError",
    "ConnectionError",
    "DeadLetter",
    "Dispatcher",
    "Herald",
    "HeraldError",
    "JsonlDeadLetters",
    "MalformedSignatureError",
    "NotFoundError",
    "Page",
    "PayloadTooLargeError",
    "PermissionError",
    "RateLimitError",
    "ReplayReport",
    "RetryError",
    "RetryPolicy",
    "ServerError",
    "SignatureError",
    "SignatureTimestampError",
    "TimeoutError",
    "Webhook",
    "WebhookEvent",
    "__version__",
    "parse_event",
    "read_dead_letters",
    "redact",
    "sign",
]
