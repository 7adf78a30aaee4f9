"""Runs the example services under riemann-run with the console transport, and uses them.

The Flask shop under gunicorn, its FastAPI stock service under uvicorn, and a
Celery worker for the shop's orders, each started as an operator would:
`riemann-run` in front of the usual command.
Every event riemann-auto would send to Riemann is printed as one JSON line,
but health reports (every second here): the first of each process is printed at
the end.
With RIEMANN_HOST set, the events go to that Riemann server instead (TCP), for
integration/riemann.config to work on.
Run through ./integration/demo, which sets up the environment first. Nothing is
left behind: the Celery queue (kombu's messages and control files) is a
temporary folder, removed at the end.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SHOP = [
    ("GET", "/"),
    ("GET", "/users/"),
    ("GET", "/users/1"),
    ("GET", "/users/7"),
    ("GET", "/checkout"),
    ("GET", "/async"),
    ("GET", "/stream"),
    ("GET", "/shelf/tea"),
    ("GET", "/health"),
    ("POST", "/orders/30"),
    ("POST", "/orders/500"),
]
STOCK = [
    ("GET", "/stock"),
    ("GET", "/stock/tea"),
    ("GET", "/stock/coffee"),
    ("POST", "/stock/tea/reserve"),
    ("POST", "/stock/cake/reserve"),
]


HEALTH_INTERVAL = "1"
# The processes that report health: the shop's gunicorn master and its two workers,
# the stock service's uvicorn, the Celery worker.
REPORTING = {"shop": 3, "stock": 1, "orders": 1}


class Output:
    """A service's stderr, printed as it comes; its health reports kept, the first of
    each process, for the end."""

    def __init__(self, name: str, stream) -> None:
        self.name = name
        self.health: dict[str, list[str]] = {}  # pid: its first report's lines
        self._stream = stream
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            event = _event(line)
            if event is None or "health" not in event.get("tags", ()):
                sys.stderr.write(line)
                continue
            report = self.health.setdefault(event["attributes"]["process.pid"], [])
            if not any(json.loads(seen)["service"] == event["service"] for seen in report):
                report.append(line)

    def reported(self) -> bool:
        complete = [pid for pid, lines in self.health.items() if len(lines) >= 8]
        return len(complete) >= REPORTING[self.name]

    def join(self) -> None:
        self._thread.join(10)


def _event(line: str) -> dict | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen) -> None:
    """Until the service listens."""
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{' '.join(proc.args[1:3])} did not start")


def wait_for_queue(folder: str, worker: subprocess.Popen) -> None:
    """Until the worker has taken every queued message (kombu's files are gone)."""
    deadline = time.monotonic() + 30
    while worker.poll() is None and time.monotonic() < deadline:
        if not any(name.endswith(".msg") for name in os.listdir(folder)):
            return
        time.sleep(0.1)
    sys.exit("the Celery worker did not take the orders")


def call(method: str, url: str) -> int:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def show(command: list[str], settings: str) -> None:
    """The command as an operator would type it."""
    program = Path(command[1]).name
    print(f"$ {settings} \\\n    riemann-run {program} {' '.join(command[2:])}\n")


def use(port: int, calls: list[tuple[str, str]]) -> None:
    for method, path in calls:
        print(f"{method} {path} -> {call(method, f'http://127.0.0.1:{port}{path}')}", flush=True)
        time.sleep(0.3)  # only so that each request's events print under it


def main() -> None:
    port, api_port = free_port(), free_port()
    queue = tempfile.mkdtemp(prefix="riemann-auto-demo-")
    riemann = os.environ.get("RIEMANN_HOST")
    transport = "tcp" if riemann else "console"
    env = dict(
        os.environ,
        RIEMANN_TRANSPORT=transport,
        RIEMANN_TARGETS="example_app:lookup_user",
        RIEMANN_FLASK_EXCLUDED_ROUTES="/health",
        EXAMPLE_QUEUE_DIR=queue,
        EXAMPLE_STOCK_URL=f"http://127.0.0.1:{api_port}",
        PYTHONPATH=str(HERE),
        RIEMANN_HEALTH_INTERVAL=HEALTH_INTERVAL,
    )
    settings = (
        f"RIEMANN_TRANSPORT={transport} RIEMANN_TARGETS=example_app:lookup_user "
        f"RIEMANN_HEALTH_INTERVAL={HEALTH_INTERVAL}"
    )
    if riemann:
        settings = f"RIEMANN_HOST={riemann} {settings}"
    riemann_run = str(BIN / "riemann-run")
    shop = [
        riemann_run, str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
        "--log-level", "warning", "example_app:app",
    ]  # fmt: skip
    api = [
        riemann_run, str(BIN / "uvicorn"), "--port", str(api_port), "--log-level", "warning",
        "example_api:app",
    ]  # fmt: skip
    worker = [
        riemann_run, str(BIN / "celery"), "-A", "example_tasks", "--quiet", "worker", "--pool=solo",
        "--loglevel=critical", "--without-heartbeat", "--without-mingle", "--without-gossip",
    ]  # fmt: skip
    for command in (shop, api, worker):
        show(command, settings)
    services = [
        subprocess.Popen(command, env=env, cwd=HERE, stderr=subprocess.PIPE, text=True)
        for command in (shop, api, worker)
    ]
    outputs = [
        Output(name, service.stderr) for name, service in zip(REPORTING, services, strict=True)
    ]
    try:
        wait_for_port(port, services[0])
        wait_for_port(api_port, services[1])
        print("the shop (Flask, gunicorn):", flush=True)
        use(port, SHOP)
        print("\nthe stock service (FastAPI, uvicorn):", flush=True)
        use(api_port, STOCK)
        print("\nthe Celery worker takes the shop's orders:", flush=True)
        wait_for_queue(queue, services[2])
        if not riemann:
            deadline = time.monotonic() + 10
            while not all(o.reported() for o in outputs) and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        for service in services:
            service.send_signal(signal.SIGTERM)
        for service in services:
            service.wait(30)
        for output in outputs:
            output.join()
        shutil.rmtree(queue, ignore_errors=True)
    if riemann:
        print(f"\nThe events went to the Riemann server at {riemann}; see docs/riemann-config.md")
        print("for what integration/riemann.config makes of them.")
        return
    for output in outputs:
        print(f"\n{output.name}: the first health report of each process", flush=True)
        for lines in output.health.values():
            sys.stderr.write("".join(lines))
            sys.stderr.flush()
    print("\nEach JSON line above is an event riemann-auto sent (here to stderr, as")
    print("RIEMANN_TRANSPORT=console). Point RIEMANN_HOST at a Riemann server to send them there.")


if __name__ == "__main__":
    main()
