"""Routes each request to its organization's schema by host; unknown or inactive -> JSON 404.

The host -> organization lookup (a query on every request, ~0.9 ms of ORM work on the
development machine, about a fifth of a cached dashboard request) is remembered per process
for TENANT_CACHE_SECONDS. What that costs in freshness, and its bound:

* a change saved through the ORM (Organization or Domain save/delete: deactivation, a renamed
  domain, a new organization) clears this process's entries at once;
* another process keeps routing a deactivated organization, or a domain that was renamed
  or removed, for at most TENANT_CACHE_SECONDS after the change (0 turns the cache off);
* unknown and inactive hosts are never remembered: a new organization routes at once.
"""

import copy
import threading
import time

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import DatabaseError
from django.db.models.signals import post_delete, post_save
from django_tenants.middleware.main import TenantMainMiddleware

from saas.api.views import database_unavailable_response, tenant_not_found
from saas.db.errors import database_unavailable, log_database_unavailable

from .models import Domain, Organization


class RoutingCache:
    """Active organizations by host name, each remembered for TENANT_CACHE_SECONDS."""

    def __init__(self):
        self._entries: dict[str, tuple[float, Organization]] = {}
        self._lock = threading.Lock()

    def get(self, hostname: str) -> Organization | None:
        entry = self._entries.get(hostname)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    def put(self, hostname: str, organization: Organization) -> None:
        seconds = settings.TENANT_CACHE_SECONDS
        if seconds <= 0:
            return
        with self._lock:
            self._entries[hostname] = (time.monotonic() + seconds, organization)

    def clear(self, **kwargs) -> None:
        """Forget every host (a signal receiver: any organization or domain changed)."""
        with self._lock:
            self._entries = {}


routing_cache = RoutingCache()
for _model in (Organization, Domain):
    post_save.connect(routing_cache.clear, sender=_model, dispatch_uid=f"routing-{_model}-save")
    post_delete.connect(routing_cache.clear, sender=_model, dispatch_uid=f"routing-{_model}-del")


class OrganizationMiddleware(TenantMainMiddleware):
    """django-tenants' middleware, plus: inactive organizations and foreign hosts are not found,
    and active organizations are remembered per host for a few seconds (see the module)."""

    def process_request(self, request):
        try:
            request.get_host()
        except DisallowedHost:
            # The stock middleware answers an empty HTML 404 here; keep every answer JSON.
            return tenant_not_found(request)
        try:
            return super().process_request(request)
        except DatabaseError as error:
            # PostgreSQL down: a 503 in every mode, logged in one line (raised from here,
            # Django would log a traceback and, with DEBUG on, answer its HTML error page).
            if not database_unavailable(error):
                raise
            log_database_unavailable(error, request.path)
            return database_unavailable_response()

    def hostname_from_request(self, request):
        # Host names are case-insensitive, and "acme.example.com." (trailing dot) is the same host.
        hostname = super().hostname_from_request(request).lower().rstrip(".")
        # Aliases (127.0.0.1 in development) are the base host under another name.
        return settings.BASE_DOMAIN if hostname in settings.PUBLIC_HOST_ALIASES else hostname

    def get_tenant(self, domain_model, hostname):
        tenant = routing_cache.get(hostname)
        if tenant is None:
            tenant = super().get_tenant(domain_model, hostname)
            if not tenant.is_active:
                raise domain_model.DoesNotExist(f"Organization {tenant.slug} is inactive")
            routing_cache.put(hostname, tenant)
        # A copy per request: the middleware sets attributes on it (domain_url), and requests
        # of other threads share the remembered one.
        return copy.copy(tenant)
