"""Fixtures: a real `herald serve` process and real HTTP receivers, all on 127.0.0.1."""

from __future__ import annotations

import http.server
import os
import pathlib
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, Optional, Tuple

import httpx
import pytest

from herald import Herald

ADMIN_KEY = "hrd_pythonSdkTestAdminKey0123456789abcdefghij"
ROOT = pathlib.Path(__file__).resolve().parents[3]


def _binary() -> str:
    path = os.environ.get("HERALD_BIN") or str(ROOT / "target" / "debug" / "herald")
    if not os.path.exists(path):
        pytest.fail(f"no herald binary at {path}: run `cargo build` or set HERALD_BIN")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: pathlib.Path

    def client(self, **kwargs: object) -> Herald:
        return Herald(ADMIN_KEY, base_url=self.url, **kwargs)  # type: ignore[arg-type]


def start_server(tmp: pathlib.Path, **env: str) -> Server:
    port = free_port()
    log = tmp / "herald.log"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    environ.update(
        HERALD_ADMIN_KEY=ADMIN_KEY,
        HERALD_RETRY_SCHEDULE="1s,1s",
        HERALD_RETRY_JITTER="0",
        RUST_LOG="warn",
    )
    environ.update(env)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                _binary(),
                "serve",
                "--listen",
                f"127.0.0.1:{port}",
                "--data-dir",
                str(tmp / "data"),
                "--allow-private-targets",
            ],
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            pytest.fail(f"herald exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return Server(url, proc, log)
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"herald not ready: {log.read_text()}")
        time.sleep(0.05)


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("herald"), HERALD_MAX_EVENT_BYTES="4096")
    yield srv
    stop_server(srv)


@pytest.fixture
def client(server: Server) -> Iterator[Herald]:
    with server.client() as c:
        yield c


@pytest.fixture
def app(client: Herald) -> str:
    """A fresh application's id."""
    return client.apps.create(f"test-{uuid.uuid4().hex[:8]}")["id"]


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records requests and answers with ``respond``."""

    url: str
    requests: list[Received] = field(default_factory=list)
    respond: Callable[[Received], tuple[int, dict[str, str], bytes]] = lambda r: (200, {}, b"ok")
    cond: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, n: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"got {len(self.requests)} requests, expected {n}")
                self.cond.wait(left)
            return list(self.requests)


Reply = Tuple[int, Dict[str, str], bytes]


def http_server(handle: Callable[[Received], Optional[Reply]]) -> http.server.ThreadingHTTPServer:
    """A real HTTP/1.1 server on 127.0.0.1:0 in a thread; ``handle`` answers each request
    (``None``: close without answering)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = handle(Received(self.command, self.path, headers, body))
            if reply is None:
                self.close_connection = True
                return
            status, out_headers, out = reply
            try:
                self.send_response(status)
                for k, v in out_headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
            except OSError:
                pass  # the client went away

        do_POST = do_GET = do_PATCH = do_DELETE = _handle

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def _url(httpd: http.server.ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}"


def start_receiver() -> tuple[Receiver, http.server.ThreadingHTTPServer]:
    holder: dict[str, Receiver] = {}

    def handle(rec: Received) -> Reply:
        receiver = holder["r"]
        reply = receiver.respond(rec)
        with receiver.cond:
            receiver.requests.append(rec)
            receiver.cond.notify_all()
        return reply

    httpd = http_server(handle)
    holder["r"] = Receiver(url=_url(httpd))
    return holder["r"], httpd


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec, httpd = start_receiver()
    yield rec
    httpd.shutdown()
    httpd.server_close()


receiver2 = receiver


@dataclass
class Proxy:
    """A real HTTP server in front of Herald. Each request takes the next step of ``script``:
    ``("answer", status, headers)`` answers without forwarding, ``("forward",)`` forwards,
    ``("forward_then", status)`` forwards and then answers ``status`` instead of the real
    answer (a lost response), ``("sleep", seconds)`` waits and then forwards. When the script
    is used up every request is forwarded."""

    url: str
    upstream: str
    script: list[tuple] = field(default_factory=list)
    seen: list[Received] = field(default_factory=list)


def start_proxy(upstream: str) -> tuple[Proxy, http.server.ThreadingHTTPServer]:
    holder: dict[str, Proxy] = {}
    lock = threading.Lock()
    json_type = {"content-type": "application/json"}

    def handle(rec: Received) -> Optional[Reply]:
        proxy = holder["p"]
        with lock:
            proxy.seen.append(rec)
            step = proxy.script.pop(0) if proxy.script else ("forward",)
        if step[0] == "answer":
            return step[1], {**json_type, **(step[2] if len(step) > 2 else {})}, b'{"error":{}}'
        if step[0] == "sleep":
            time.sleep(step[1])
        fwd = {k: v for k, v in rec.headers.items() if k not in ("host", "content-length")}
        try:
            resp = httpx.request(rec.method, proxy.upstream + rec.path, headers=fwd, content=rec.body)
        except httpx.TransportError:
            return None
        if step[0] == "forward_then":
            return step[1], json_type, b"lost"
        return resp.status_code, json_type, resp.content

    httpd = http_server(handle)
    holder["p"] = Proxy(url=_url(httpd), upstream=upstream)
    return holder["p"], httpd


@pytest.fixture
def proxy(server: Server) -> Iterator[Proxy]:
    p, httpd = start_proxy(server.url)
    yield p
    httpd.shutdown()
    httpd.server_close()
