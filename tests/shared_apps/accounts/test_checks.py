"""The deploy check warns when emailed links would not be plain HTTPS URLs."""

from shared_apps.accounts.checks import check_emailed_links_use_https


def test_http_links_or_a_port_are_warned_about(settings):
    settings.SITE_SCHEME, settings.SITE_PORT = "http", "8000"

    ids = [warning.id for warning in check_emailed_links_use_https(None)]

    assert ids == ["accounts.W001", "accounts.W002"]


def test_https_without_a_port_passes(settings):
    settings.SITE_SCHEME, settings.SITE_PORT = "https", ""

    assert check_emailed_links_use_https(None) == []
