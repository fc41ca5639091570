"""Routes each request to its organization's schema by host; unknown or inactive -> JSON 404."""

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django_tenants.middleware.main import TenantMainMiddleware

from saas.api.views import tenant_not_found


class OrganizationMiddleware(TenantMainMiddleware):
    """django-tenants' middleware, plus: inactive organizations and foreign hosts are not found."""

    def process_request(self, request):
        try:
            request.get_host()
        except DisallowedHost:
            # The stock middleware answers an empty HTML 404 here; keep every answer JSON.
            return tenant_not_found(request)
        return super().process_request(request)

    def hostname_from_request(self, request):
        # Host names are case-insensitive, and "acme.example.com." (trailing dot) is the same host.
        hostname = super().hostname_from_request(request).lower().rstrip(".")
        # Aliases (127.0.0.1 in development) are the base host under another name.
        return settings.BASE_DOMAIN if hostname in settings.PUBLIC_HOST_ALIASES else hostname

    def get_tenant(self, domain_model, hostname):
        tenant = super().get_tenant(domain_model, hostname)
        if not tenant.is_active:
            raise domain_model.DoesNotExist(f"Organization {tenant.slug} is inactive")
        return tenant
