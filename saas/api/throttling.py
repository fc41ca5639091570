"""Rate limits: DRF throttles counting in the shared cache (Redis), the X-RateLimit-* headers,
and a cache outage that lets requests through.

Scopes (rates in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], from the THROTTLE_* variables):

- every request: `anon` per client address, `user` per user, `organization` per organization
  on its own host (DEFAULT_THROTTLE_CLASSES), so one busy organization cannot take the
  capacity every organization shares;
- added by the endpoints that check passwords or send email, which are stricter because each
  such request costs an Argon2 hash (~230 ms, ~100 MiB) or an email: `login_ip` and
  `login_email` (a lockout per address, whatever IP it is tried from), `register_ip` and
  `register_email`, `password_reset_ip` and `password_reset_email`, `email_link_ip` (emailed
  links and invitation tokens); `org_create` and `exports` count only the POSTs that start one.

Counting. DRF's SimpleRateThrottle keeps a list of timestamps per key that each request reads
and writes back whole: requests running at once in several processes overwrite each other's
entries, and the requests lost are those of a parallel burst, the very case a login limit is
for. These throttles keep DRF's interface (scopes, rates, `allow_request`/`wait`, NUM_PROXIES)
but count with one atomic INCR per scope and request, in fixed windows: the limit holds across
every process and worker. The scopes of one request are counted together, in one round trip
to Redis (the first throttle DRF asks counts for its siblings). The price: a client can spend
one window's allowance at its end and the next one's at its start (at most twice the rate
over a period).
Each key's windows start at an offset of its own, so clients do not all come back at once.

Client address: the socket's, unless TRUSTED_PROXY_COUNT (DRF's NUM_PROXIES) says how many
X-Forwarded-For entries our own proxies appended; IPv6 addresses count per /64 network, which
a single client usually holds whole.

Cache outage: an error from the cache lets the request through uncounted, logs one warning,
and skips the cache in this process for CACHE_RETRY_SECONDS before trying again, so a dead or
black-holed Redis costs one REDIS_TIMEOUT per process and period rather than one per request.
"""

import functools
import hashlib
import ipaddress
import logging
import math
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpResponse
from django_redis.cache import RedisCache
from django_tenants.utils import get_public_schema_name
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from saas.api import messages
from saas.api.outage import CACHE_ERRORS, CircuitBreaker
from saas.api.rates import describe_period, parse_rate

logger = logging.getLogger(__name__)

# The counters' cache: the same store as "default", but keys without the schema name
# (settings.CACHES), so a user or an address has one count on every organization's host.
CACHE_ALIAS = "throttle"
# Attribute of the HttpRequest listing what each throttle counted (read by the middleware).
RECORDS = "rate_limits"
# Attribute of the HttpRequest holding the counts of every scope of the request, taken in one
# round trip by the first throttle asked: {scope key: [(count, reset), ...]}.
COUNTS = "rate_limit_counts"


@dataclass(frozen=True)
class RateLimit:
    """What one scope counted for a request."""

    scope: str
    description: str
    limit: int
    period: int  # seconds
    remaining: int
    reset: int  # seconds until the window ends and the count starts again
    exceeded: bool

    @property
    def message(self) -> str:
        return messages.THROTTLED.format(
            what=self.description,
            limit=self.limit,
            period=describe_period(self.period),
            wait=self.reset,
        )


outage = CircuitBreaker(without_cache="rate limits not enforced, requests let through")


class RateThrottle(SimpleRateThrottle):
    """Base of the project's throttles: a scope, a key from `identify()`, atomic counting.

    `methods` limits a scope to the requests that start something (POST); `counts_refusals`
    marks the scopes that also count requests refused before DRF's throttles ran (401, 403:
    see `refused`).
    """

    description = "requests"
    methods: frozenset[str] | None = None
    counts_refusals = False

    def __init__(self):
        # Read per request (DRF reads rates once, at import), so settings and tests apply.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.record: RateLimit | None = None

    def get_rate(self) -> str | None:
        rates = api_settings.DEFAULT_THROTTLE_RATES
        if self.scope not in rates:
            raise ImproperlyConfigured(f"No rate for the throttle scope {self.scope!r}.")
        return rates[self.scope]

    def parse_rate(self, rate):
        try:
            return parse_rate(rate)
        except ValueError as exc:
            raise ImproperlyConfigured(f"Throttle scope {self.scope!r}: {exc}") from exc

    def get_ident(self, request) -> str:
        return client_address(super().get_ident(request))

    def identify(self, request) -> str | None:
        """Whom this scope counts the request for; None: the scope does not apply."""
        raise NotImplementedError

    def get_cache_key(self, request, view) -> str | None:
        if self.methods is not None and request.method not in self.methods:
            return None
        ident = self.identify(request)
        return None if ident is None else f"throttle:{self.scope}:{ident}"

    def window(self, key: str) -> tuple[str, int]:
        """The counter of the current window for `key`, and seconds until that window ends."""
        now = self.timer()
        window, elapsed = divmod(now - zlib.crc32(key.encode()) % self.duration, self.duration)
        return f"{key}:{int(window)}", max(1, math.ceil(self.duration - elapsed))

    def allow_request(self, request, view) -> bool:
        records = _records(request)
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None or not outage.allows():
            return True
        try:
            counted = _counted(self, key, request, view)
        except CACHE_ERRORS as error:
            outage.trip(error)
            return True
        if counted is None:  # counting this request failed: the breaker is open
            return True
        outage.succeed()
        count, reset = counted
        self.record = RateLimit(
            scope=self.scope,
            description=self.description,
            limit=self.num_requests,
            period=self.duration,
            remaining=max(0, self.num_requests - count),
            reset=reset,
            exceeded=count > self.num_requests,
        )
        records.append(self.record)
        return not self.record.exceeded

    def wait(self) -> int | None:
        return self.record.reset if self.record is not None else None


def _counted(throttle: RateThrottle, key: str, request, view) -> tuple[int, int] | None:
    """This request's count for `key` in its window, and seconds until the window ends (None:
    the cache failed while counting this request).

    The first throttle of a request counts for every throttle the view will ask (`count_for`);
    the others find their count taken. A throttle asked outside a view counts alone."""
    http_request = _http_request(request)
    if not hasattr(http_request, COUNTS) and view is not None:
        count_for(request, view, view.get_throttles())
    taken = getattr(http_request, COUNTS, {}).get(key)
    if taken:
        return taken.pop(0)
    if not outage.allows():
        return None
    counter, reset = throttle.window(key)
    return _increment_many([(counter, reset + 1)])[0], reset


def count_for(request, view, throttles: Iterable[RateThrottle]) -> None:
    """Count the request for each of `throttles` that applies, in one round trip, and keep
    the counts on the request for those throttles' `allow_request`."""
    http_request = _http_request(request)
    setattr(http_request, COUNTS, {})  # set first: a cache error leaves the throttles alone
    pending = []
    for throttle in throttles:
        if not isinstance(throttle, RateThrottle) or throttle.rate is None:
            continue
        key = throttle.get_cache_key(request, view)
        if key is not None:
            pending.append((key, *throttle.window(key)))
    if not pending or not outage.allows():
        return
    try:
        counts = _increment_many([(counter, reset + 1) for _, counter, reset in pending])
    except CACHE_ERRORS as error:
        outage.trip(error)  # the throttles then let the request through uncounted
        return
    taken = getattr(http_request, COUNTS)
    for (key, _, reset), count in zip(pending, counts, strict=True):
        taken.setdefault(key, []).append((count, reset))


# Per counter: create the window's counter with its expiry unless it exists, then add one.
# KEYS are the counters, ARGV their expiries (seconds); returns the counts, in order.
_INCREMENT_SCRIPT = """
local counts = {}
for i, key in ipairs(KEYS) do
  redis.call('SET', key, 0, 'EX', ARGV[i], 'NX')
  counts[i] = redis.call('INCR', key)
end
return counts
"""


def _increment_many(counters: list[tuple[str, int]]) -> list[int]:
    """Add one to each counter atomically and return the counts; `(key, timeout)` pairs, the
    timeout applying to a counter the call creates.

    On Redis: one Lua script (`SET key 0 EX timeout NX`, then `INCR key`, per counter), run
    atomically in one round trip by EVALSHA; a MULTI/EXEC of the same commands took ~0.1 ms
    longer here, parsing a reply per command. Other caches (the per-process fallback without
    Redis): the cache API, one counter after another.
    """
    cache = caches[CACHE_ALIAS if CACHE_ALIAS in settings.CACHES else DEFAULT_CACHE_ALIAS]
    if isinstance(cache, RedisCache):
        # redis-py's Script sends EVALSHA, and loads the script when Redis lacks it.
        script = cache.client.get_client(write=True).register_script(_INCREMENT_SCRIPT)
        keys = [cache.client.make_key(key) for key, _ in counters]
        return [int(count) for count in script(keys=keys, args=[t for _, t in counters])]
    return [_increment_one(cache, key, timeout) for key, timeout in counters]


def _increment_one(cache, key: str, timeout: int) -> int:
    try:
        return cache.incr(key)
    except ValueError:  # the window's first request: no key yet
        if cache.add(key, 1, timeout):
            return 1
        return cache.incr(key)  # another process added it meanwhile


def _increment(key: str, *, timeout: int) -> int:
    """Add one to `key`'s count atomically and return the count."""
    return _increment_many([(key, timeout)])[0]


def _http_request(request):
    """The Django HttpRequest behind a DRF Request (where middleware can see attributes)."""
    return getattr(request, "_request", request)


def _records(request) -> list[RateLimit]:
    """This request's counts; created by the first throttle that runs (so its presence also
    says that the throttles ran)."""
    http_request = _http_request(request)
    if not hasattr(http_request, RECORDS):
        setattr(http_request, RECORDS, [])
    return getattr(http_request, RECORDS)


def client_address(address: str | None) -> str:
    """The key of a client address: IPv4 as is, IPv6 by its /64 network (one client usually
    holds a whole /64 and could otherwise take a new address per request)."""
    address = (address or "").strip()
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # not an address (a proxy's odd header): a key that cannot collide
        return "other-" + hashlib.sha256(address.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:  # ::ffff:192.0.2.1, how dual-stack sockets show IPv4
        return str(ip.ipv4_mapped)
    return f"{ipaddress.ip_network(f'{ip}/64', strict=False).network_address}/64"


def email_key(email: str) -> str:
    """One key per address however it is typed (case, surrounding spaces), hashed so that no
    address is written to the cache. casefold() merges at least what the database's
    case-insensitive lookup does, so no spelling gets a count of its own."""
    normalized = email.strip().casefold()
    return hashlib.sha256(normalized.encode("utf-8", "surrogatepass")).hexdigest()[:32]


# --- Every request ---------------------------------------------------------------------------


class AnonRateThrottle(RateThrottle):
    """Anonymous requests, per client address."""

    scope = "anon"
    description = "anonymous requests from one address"
    counts_refusals = True

    def identify(self, request):
        return None if request.user.is_authenticated else self.get_ident(request)


class UserRateThrottle(RateThrottle):
    """Signed-in requests, per user (on every host together)."""

    scope = "user"
    description = "requests by one user"
    counts_refusals = True

    def identify(self, request):
        return str(request.user.pk) if request.user.is_authenticated else None


class OrganizationRateThrottle(RateThrottle):
    """Signed-in requests on an organization's host, per organization (its schema).

    DRF checks permissions first, so requests refused for not being a member are not
    counted, and neither are anonymous ones: outsiders cannot use up an organization's
    allowance.
    """

    scope = "organization"
    description = "requests to one organization"

    def identify(self, request):
        tenant = getattr(request, "tenant", None)
        schema_name = getattr(tenant, "schema_name", None)
        if schema_name in (None, get_public_schema_name()) or not request.user.is_authenticated:
            return None
        return schema_name


# --- Endpoints that check a password, redeem an emailed secret or send an email -------------


class AddressRateThrottle(RateThrottle):
    """Per client address, signed in or not."""

    def identify(self, request):
        return self.get_ident(request)


class EmailRateThrottle(RateThrottle):
    """Per email address: the signed-in user's, else the body's `email` (a request without
    one is refused by its serializer before any work, and not counted here)."""

    def identify(self, request):
        if request.user.is_authenticated:
            email = request.user.email
        else:
            data = request.data
            email = data.get("email") if isinstance(data, Mapping) else None
        return email_key(email) if isinstance(email, str) and email.strip() else None


class LoginAddressThrottle(AddressRateThrottle):
    """Password checks (login, password change), per client address."""

    scope = "login_ip"
    description = "password attempts from one address"


class LoginEmailThrottle(EmailRateThrottle):
    """Password checks (login, password change), per account address: a lockout that follows
    the address, whatever IP or X-Forwarded-For the attempts come with."""

    scope = "login_email"
    description = "password attempts for one email address"


class RegisterAddressThrottle(AddressRateThrottle):
    """Sign-ups, per client address."""

    scope = "register_ip"
    description = "sign-ups from one address"


class RegisterEmailThrottle(EmailRateThrottle):
    """Sign-ups, per address signed up (each one emails that address)."""

    scope = "register_email"
    description = "sign-ups for one email address"


class PasswordResetAddressThrottle(AddressRateThrottle):
    """Password reset requests, per client address."""

    scope = "password_reset_ip"
    description = "password reset requests from one address"


class PasswordResetEmailThrottle(EmailRateThrottle):
    """Password reset requests, per address (each one emails that address)."""

    scope = "password_reset_email"
    description = "password reset requests for one email address"


class EmailLinkAddressThrottle(AddressRateThrottle):
    """Emailed secrets redeemed without signing in (verify an address, set a password from a
    link, accept an invitation with its token), per client address."""

    scope = "email_link_ip"
    description = "uses of emailed links from one address"


class OrganizationCreateThrottle(UserRateThrottle):
    """Organizations created (each costs a schema), per user; listing is not counted."""

    scope = "org_create"
    description = "organizations created by one user"
    methods = frozenset({"POST"})
    counts_refusals = False


class ExportRateThrottle(UserRateThrottle):
    """Exports started, per user; following an export's progress is not counted."""

    scope = "exports"
    description = "exports started by one user"
    methods = frozenset({"POST"})
    counts_refusals = False


def throttle_classes(*extra: type[RateThrottle]) -> list[type]:
    """A view's throttles: every request's (DEFAULT_THROTTLE_CLASSES) plus `extra`."""
    return [*api_settings.DEFAULT_THROTTLE_CLASSES, *extra]


# --- Answers --------------------------------------------------------------------------------

# Refusals DRF raises before it runs the throttles (authentication, permissions, a method the
# view does not have).
REFUSALS = (
    exceptions.NotAuthenticated,
    exceptions.AuthenticationFailed,
    exceptions.PermissionDenied,
    exceptions.MethodNotAllowed,
    DjangoPermissionDenied,
)


class RateLimited(exceptions.Throttled):
    """429 naming the scope: `{"detail": "...", "scope": "login_email"}`, `Retry-After`."""

    def __init__(self, record: RateLimit):
        super().__init__(wait=record.reset)
        self.detail = {
            "detail": exceptions.ErrorDetail(record.message, code=self.default_code),
            "scope": record.scope,
        }


def refused(exc: Exception, view, request) -> Exception:
    """Count a request refused before the throttles ran (401, 403) against the caller's own
    scopes (`anon` or `user`, not the organization's), so a flood of refused requests is
    limited too and the answer carries the X-RateLimit-* headers. Returns `exc`, or the 429
    once the caller is over a limit."""
    if view is None or not isinstance(request, Request):
        return exc
    if hasattr(_http_request(request), RECORDS):  # counted already
        return exc
    throttles = [t for t in view.get_throttles() if getattr(t, "counts_refusals", False)]
    count_for(request, view, throttles)  # these scopes only, in one round trip
    denied = [throttle for throttle in throttles if not throttle.allow_request(request, view)]
    if not denied:
        return exc
    return exceptions.Throttled(wait=max(throttle.wait() for throttle in denied))


def rate_limited(exc: exceptions.Throttled, request) -> exceptions.Throttled:
    """DRF's Throttled, as the 429 naming the scope that decided `Retry-After` (the longest
    wait of the scopes exceeded)."""
    if isinstance(exc, RateLimited) or request is None:
        return exc
    exceeded = [record for record in _records(request) if record.exceeded]
    if not exceeded:
        return exc
    return RateLimited(max(exceeded, key=lambda record: record.reset))


def tightest(records: Iterable[RateLimit]) -> RateLimit | None:
    """The scope that will refuse first: fewest requests left, then the longest wait."""
    return min(records, key=lambda record: (record.remaining, -record.reset), default=None)


class RateLimitHeadersMiddleware:
    """`X-RateLimit-Limit`, `-Remaining` and `-Reset` (seconds until the window ends) on
    every response whose request the throttles counted, for the tightest scope."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        record = tightest(getattr(request, RECORDS, ()))
        if record is not None:
            response.headers.setdefault("X-RateLimit-Limit", str(record.limit))
            response.headers.setdefault("X-RateLimit-Remaining", str(record.remaining))
            response.headers.setdefault("X-RateLimit-Reset", str(record.reset))
        return response


# --- Django's own login form (the admin) --------------------------------------------------


class _FormPost:
    """A login form's POST as the throttles read a DRF request: its `username` field is the
    account's email address."""

    def __init__(self, request):
        self._request = request
        self.META = request.META
        self.headers = request.headers
        self.method = request.method
        self.user = request.user
        self.data = {"email": request.POST.get("username", "")}


def throttle_login_form(view):
    """Wrap a Django login view (the admin's) in the API login's scopes, per address and per
    email: each attempt costs an Argon2 hash, and the form is as open to guessing as the API."""

    @functools.wraps(view)
    def guarded(request, *args, **kwargs):
        if request.method == "POST":
            post = _FormPost(request)
            for throttle_class in (LoginAddressThrottle, LoginEmailThrottle):
                throttle = throttle_class()
                if not throttle.allow_request(post, None):
                    wait = throttle.wait() or 1
                    response = HttpResponse(
                        f"Too many login attempts ({throttle.description}). "
                        f"Try again in {wait} seconds.",
                        status=429,
                        content_type="text/plain; charset=utf-8",
                    )
                    response["Retry-After"] = str(wait)
                    return response
        return view(request, *args, **kwargs)

    return guarded
