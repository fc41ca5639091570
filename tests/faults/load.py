"""Clients that keep sending requests from threads and record every answer with its timing."""

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tests.dev_server import HOST, Response

from .servers import request


@dataclass
class Answer:
    client: int
    method: str
    path: str
    host: str
    started: float  # time.monotonic()
    ended: float
    status: int  # 0: no HTTP answer at all (connection error)
    body: bytes
    headers: dict
    error: str = ""
    body_sent: dict | None = None

    @property
    def seconds(self) -> float:
        return self.ended - self.started


# A client's next request: (method, path, host, token, body) from the client's number and
# its request count so far.
NextRequest = Callable[[int, int], tuple[str, str, str, str | None, dict | None]]


class Clients:
    """`count` threads, each with its own keep-alive connection to 127.0.0.1:`port`, sending
    `next_request(client, n)` until `requests_each` are sent or `stop()` is called."""

    def __init__(
        self, port: int, count: int, next_request: NextRequest, requests_each: int | None = None
    ):
        self.port = port
        self.next_request = next_request
        self.requests_each = requests_each
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(number,), daemon=True)
            for number in range(count)
        ]

    def start(self) -> "Clients":
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.join()

    def join(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        assert not any(thread.is_alive() for thread in self.threads), "a client is stuck"

    def _run(self, number: int) -> None:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
        sent = 0
        try:
            while not self._stop.is_set() and (
                self.requests_each is None or sent < self.requests_each
            ):
                method, path, host, token, body = self.next_request(number, sent)
                started = time.monotonic()
                error = ""
                for _attempt in (1, 2):
                    try:
                        response = request(
                            self.port,
                            method,
                            path,
                            host=host,
                            token=token,
                            body=body,
                            connection=connection,
                        )
                        error = ""
                        break
                    except (OSError, http.client.HTTPException) as exc:
                        # The server closed the kept-alive connection (its keep-alive timeout):
                        # what any HTTP client does, once, on a new connection.
                        connection.close()
                        connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
                        response = Response(0, b"", {})
                        error = f"{type(exc).__name__}: {exc}"
                answer = Answer(
                    client=number,
                    method=method,
                    path=path,
                    host=host,
                    started=started,
                    ended=time.monotonic(),
                    status=response.status,
                    body=response.body,
                    headers=response.headers,
                    error=error,
                    body_sent=body,
                )
                with self._lock:
                    self.answers.append(answer)
                sent += 1
        finally:
            connection.close()
