"""Rate strings ("600/min", "10/15min"): parsed here, with no Django or DRF import, so the
settings can check the environment's values at start-up (saas/api/throttling.py uses them)."""

import re

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
UNIT_NAMES = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}
# DRF's form (a count, "/", a unit: s, sec, m, min, h, hour, d, day), plus an optional number
# of units, since brute-force limits are usually counted over a quarter of an hour or so.
RATE_PATTERN = re.compile(r"^(\d+)/(\d*)(s|sec|m|min|h|hour|d|day)$")
RATE_FORMAT = (
    '"<requests>/<period>": the period is s, min, h or day, optionally with a count '
    '("600/min", "10/15min"); empty for no limit'
)


def parse_rate(rate: str | None) -> tuple[int | None, int | None]:
    """`(requests, seconds)` for a rate string, `(None, None)` for no limit. Raises ValueError."""
    if rate is None or not rate.strip():
        return None, None
    match = RATE_PATTERN.match(rate.strip().lower())
    if match is None:
        raise ValueError(f"{rate!r} is not a rate: use {RATE_FORMAT}.")
    requests, count, unit = match.groups()
    seconds = int(count or 1) * UNIT_SECONDS[unit[0]]
    if seconds == 0:
        raise ValueError(f"{rate!r} has an empty period: use {RATE_FORMAT}.")
    return int(requests), seconds


def describe_period(seconds: int) -> str:
    """ "minute", "15 minutes", "hour", "2 days": how a message names a rate's period."""
    for unit in sorted(UNIT_NAMES, reverse=True):
        if seconds % unit == 0:
            count, name = seconds // unit, UNIT_NAMES[unit]
            return name if count == 1 else f"{count} {name}s"
    return f"{seconds} seconds"  # unreachable: every period is a whole number of seconds
