"""Retry delays: full-jitter capped exponential backoff, with ``Retry-After`` as a floor."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """How failed requests are retried.

    Attempt ``n`` (1-based) waits a random time in ``[0, min(cap, base * 2**(n-1))]``
    ("full jitter"), or the server's ``Retry-After`` when that is longer.

    >>> p = RetryPolicy(max_retries=2, base=0.1, cap=1.0)
    >>> 0.0 <= p.delay(1) <= 0.1
    True
    >>> p.delay(1, retry_after=5.0)
    5.0
    """

    #: Retries after the first attempt (0 disables retrying).
    max_retries: int = 3
    #: Seconds: the ceiling of the first retry's delay.
    base: float = 0.5
    #: Seconds: no delay ceiling grows beyond this.
    cap: float = 30.0

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        ceiling = min(self.cap, self.base * (2 ** min(max(retry - 1, 0), 30)))
        jittered = random.uniform(0.0, ceiling)
        if retry_after is not None:
            return max(jittered, retry_after)
        return jittered
