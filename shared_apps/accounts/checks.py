"""`manage.py check --deploy`: emailed links carry credentials, so they must be HTTPS URLs."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def check_emailed_links_use_https(app_configs, **kwargs):
    """Warn when links in emails (tokens inside) would go out as plain HTTP or odd ports."""
    warnings = []
    if settings.SITE_SCHEME != "https":
        warnings.append(
            Warning(
                "SITE_SCHEME is not https: emailed links (verification, password, invitation "
                "tokens) would travel in clear text.",
                hint="Set SITE_SCHEME=https in production.",
                id="accounts.W001",
            )
        )
    if settings.SITE_PORT not in ("", "443"):
        warnings.append(
            Warning(
                f"SITE_PORT is {settings.SITE_PORT}: emailed links will name that port.",
                hint="Set SITE_PORT= (empty) behind a proxy on 443.",
                id="accounts.W002",
            )
        )
    return warnings
