"""Working through a cache outage: what a dead Redis raises, and a per-process breaker that
stops asking it for a while, so a dead or hung Redis costs one timeout, not one per request."""

import logging
import threading
import time

from django.conf import settings
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# What a cache backend raises when its server is unreachable, slow or confused: redis-py's
# errors (refused, timed out, protocol) and the OS's socket errors.
CACHE_ERRORS = (RedisError, OSError)


class CircuitBreaker:
    """After a cache error, skip the cache for CACHE_RETRY_SECONDS in this process.

    Closed (the cache is used) until an error trips it; then open until the period ends,
    when the next request tries the cache again and closes it on success or reopens it.
    One warning when it opens (saying what goes without the cache meanwhile) and one line
    when the cache is back: not one per request.
    """

    def __init__(self, *, without_cache: str):
        self.without_cache = without_cache  # e.g. "answering from the database"
        self._lock = threading.Lock()
        self._open_until: float | None = None

    def allows(self) -> bool:
        open_until = self._open_until
        return open_until is None or time.monotonic() >= open_until

    def trip(self, error: BaseException) -> None:
        seconds = settings.CACHE_RETRY_SECONDS
        with self._lock:
            first = self._open_until is None
            self._open_until = time.monotonic() + seconds
        if first:
            logger.warning(
                "Cache unavailable (%s: %s): %s, retrying every %s s.",
                type(error).__name__,
                error,
                self.without_cache,
                seconds,
            )

    def succeed(self) -> None:
        if self._open_until is None:  # the usual case, without taking the lock
            return
        with self._lock:
            was_open = self._open_until is not None
            self._open_until = None
        if was_open:
            logger.info("Cache available again (it was %s meanwhile).", self.without_cache)

    def reset(self) -> None:
        """Forget past errors (tests)."""
        with self._lock:
            self._open_until = None
