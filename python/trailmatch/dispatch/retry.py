"""Exponential backoff with full jitter, bounded by a target's ``RetryPolicy``.

The delay before retry ``n`` (0-based) is drawn uniformly from ``[0, min(max_delay, base *
2**n)]`` ("full jitter"). Retrying stops at whichever limit of the target's ``RetryPolicy``
comes first: ``MaximumRetryAttempts`` retries done, or ``MaximumEventAgeInSeconds`` elapsed
since the delivery was first attempted (a retry whose delay would end past that age is not
made).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from trailmatch import model

__all__ = ["MAXIMUM_EVENT_AGE", "MAXIMUM_RETRY_ATTEMPTS", "Backoff", "Exhausted"]

#: ``EXHAUSTED_RETRY_CONDITION`` values.
MAXIMUM_RETRY_ATTEMPTS = "MaximumRetryAttempts"
MAXIMUM_EVENT_AGE = "MaximumEventAgeInSeconds"


@dataclass(frozen=True)
class Exhausted:
    """Retrying is over: which limit ended it."""

    condition: str


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts.

    Args:
        base: bound of the first delay, seconds.
        max_delay: cap of every delay, seconds.
        jitter: draws the delay within ``(low, high)``; ``random.uniform`` by default (tests
            pass ``lambda low, high: high`` to see the bounds).

    Example:
        >>> b = Backoff(base=1.0, max_delay=10.0, jitter=lambda low, high: high)
        >>> [b.delay(n) for n in range(6)]
        [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
        >>> policy = model.RetryPolicy(maximum_retry_attempts=2, maximum_event_age_seconds=60)
        >>> b.next_delay(policy, retries_done=2, elapsed=0.0)
        Exhausted(condition='MaximumRetryAttempts')
        >>> b.next_delay(policy, retries_done=0, elapsed=59.5)
        Exhausted(condition='MaximumEventAgeInSeconds')
        >>> b.next_delay(policy, retries_done=1, elapsed=3.0)
        2.0
    """

    base: float = 1.0
    max_delay: float = 60.0
    jitter: Callable[[float, float], float] = random.uniform

    def bound(self, retry: int) -> float:
        """The upper bound of the delay before retry ``retry`` (0-based)."""
        if retry >= 64:
            return self.max_delay
        return min(self.max_delay, self.base * (2.0**retry))

    def delay(self, retry: int) -> float:
        """A delay before retry ``retry``, within ``[0, bound(retry)]``."""
        high = self.bound(retry)
        return min(high, max(0.0, self.jitter(0.0, high)))

    def next_delay(self, policy: model.RetryPolicy, *, retries_done: int, elapsed: float) -> float | Exhausted:
        """How long to wait before the next retry, or why there is none."""
        if retries_done >= policy.maximum_retry_attempts:
            return Exhausted(MAXIMUM_RETRY_ATTEMPTS)
        wait = self.delay(retries_done)
        if elapsed + wait >= policy.maximum_event_age_seconds:
            return Exhausted(MAXIMUM_EVENT_AGE)
        return wait
