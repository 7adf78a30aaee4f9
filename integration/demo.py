"""Runs the example app under riemann-run with the console transport and sends it requests.

Every event riemann-auto would send to Riemann is printed as one JSON line.
Run through ./integration/demo, which sets up the environment first.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
REQUESTS = ["/", "/users/", "/users/1", "/users/7", "/checkout", "/async", "/stream", "/health"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("the example app did not start")


def main() -> None:
    port = free_port()
    env = dict(
        os.environ,
        RIEMANN_TRANSPORT="console",
        RIEMANN_TARGETS="example_app:lookup_user",
        RIEMANN_FLASK_EXCLUDED_ROUTES="/health",
    )
    command = [
        str(BIN / "riemann-run"), str(BIN / "gunicorn"), "--workers", "2",
        "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--chdir", str(HERE),
        "example_app:app",
    ]  # fmt: skip
    print("$ RIEMANN_TRANSPORT=console RIEMANN_TARGETS=example_app:lookup_user \\")
    print(f"    riemann-run gunicorn --workers 2 --bind 127.0.0.1:{port} example_app:app\n")
    server = subprocess.Popen(command, env=env)
    try:
        wait_for(port, server)
        for path in REQUESTS:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as response:
                    status = response.status
                    response.read()
            except urllib.error.HTTPError as error:
                status = error.code
            print(f"GET {path} -> {status}", flush=True)
            time.sleep(0.3)  # only so that each request's events print under it
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    print("\nEach JSON line above is an event riemann-auto sent (here to stderr, as")
    print("RIEMANN_TRANSPORT=console). Point RIEMANN_HOST at a Riemann server to send them there.")


if __name__ == "__main__":
    main()
