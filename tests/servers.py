"""Web servers started through riemann-run, and plain HTTP requests to them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

from tests.conftest import riemann_popen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def until_every_worker_answered(
    ask: Callable[[], object], workers: int, seen: Iterable = (), timeout: float = 60
) -> int:
    """Call `ask` (a request answering the pid of the worker that served it) until `workers`
    pids have answered, `seen` included; how many calls.

    A deadline, not a count: a worker may still be starting while the others serve, and
    sequential requests keep going to whichever worker is free first. A worker that has
    answered is also past the moment when some servers (gunicorn's gevent workers, uWSGI;
    bare too) would miss a stop signal.
    """
    pids = set(seen)
    calls = 0
    deadline = time.monotonic() + timeout
    while len(pids) < workers and time.monotonic() < deadline:
        pids.add(ask())
        calls += 1
    assert len(pids) == workers, f"{len(pids)} of {workers} workers answered"
    return calls


class Server:
    """A server process whose stderr is read until it says it is listening."""

    def __init__(self, args: list[str], env: dict[str, str], port: int, ready: str) -> None:
        self.port = port
        self.lines: list[str] = []
        self._new_line = threading.Condition()
        self._ready = threading.Event()
        self._marker = ready
        self.proc = riemann_popen(*args, env=env, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(60):
            self.stop()
            raise AssertionError("server did not start:\n" + "".join(self.lines))

    def _read(self) -> None:
        for line in self.proc.stderr:
            with self._new_line:
                self.lines.append(line)
                self._new_line.notify_all()
            if self._marker in line:
                self._ready.set()

    def wait_for_lines(self, text: str, count: int = 1, timeout: float = 30) -> None:
        """Wait until `count` lines of its stderr contain `text`."""
        with self._new_line:
            if not self._new_line.wait_for(
                lambda: sum(text in line for line in self.lines) >= count, timeout
            ):
                raise AssertionError(f"no {count} lines with {text!r}:\n" + "".join(self.lines))

    def wait_listening(self, timeout: float = 30) -> None:
        """Until its port takes connections (a server may say it started before it listens)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.02)  # nothing to wait on: the port is polled

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def serve_every_worker(self, path: str, workers: int = 2, timeout: float = 60) -> int:
        """GET `path` (whose JSON says the worker's pid) until each worker has answered."""

        def pid() -> object:
            status, body = self.get(path)
            assert status == 200, body
            return json.loads(body)["pid"]

        return until_every_worker_answered(pid, workers, timeout=timeout)

    def stop(self) -> None:
        """SIGTERM to the whole process group: reloaders and workers go too."""
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_until(condition: Callable[[], bool], failure: str, timeout: float = 30) -> None:
    """For a state no event announces: what the kernel says of a process."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.02)


def asleep(pid: int) -> bool:
    """The process's main thread is blocked in `time.sleep` (the kernel function it waits in).

    A signal sent before that, while the thread waits for the GIL on its way into the
    sleep, is handled only when the sleep ends (CPython checks for signals after a
    built-in call, not before): tests that signal a sleeping program wait for this.
    """
    with open(f"/proc/{pid}/wchan") as wchan:
        waiting_in = wchan.read()
    # clock_nanosleep from 3.11 on; 3.10 sleeps in select()
    return any(word in waiting_in for word in ("nanosleep", "select", "poll_schedule"))
