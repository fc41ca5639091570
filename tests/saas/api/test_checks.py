"""The deploy check: production needs REDIS_URL (jobs, shared rate limits and cache)."""

from saas.api.checks import check_redis_is_configured


def test_a_deployment_without_redis_is_an_error(settings):
    settings.REDIS_URL = ""
    assert [error.id for error in check_redis_is_configured(None)] == ["saas.E001"]

    settings.REDIS_URL = "redis://redis:6379/0"
    assert check_redis_is_configured(None) == []
