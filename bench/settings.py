"""Settings of the throughput benchmark's server: the product's, plus the reference views.

Organization hosts route to bench.urls_tenants (the product's URLconf and the two reference
views); nothing of the benchmark is mounted by the product's own settings or URLconfs. The
rate limits stay on, counted in Redis as in production, at rates a benchmark cannot reach.
"""

from saas.settings import *  # noqa: F403
from saas.settings import REST_FRAMEWORK

ROOT_URLCONF = "bench.urls_tenants"

# Every request still pays for its three counts (one INCR each); none is ever refused.
UNREACHABLE_RATE = "100000000/min"
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        **REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
        "anon": UNREACHABLE_RATE,
        "user": UNREACHABLE_RATE,
        "organization": UNREACHABLE_RATE,
    },
}
