"""Processes, ports and waits: the one set of helpers tests and benchmarks share.

A test starts a server or a program in a session of its own, waits for what it
says or for its port, and stops it as a supervisor would (SIGTERM to the whole
group); whatever happened, nothing it started outlives it.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

from tests.conftest import APPS, RIEMANN_RUN, riemann_env
from tests.riemann_sink import held_port

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


_random = random.SystemRandom()  # suites started at one instant draw apart


def free_port() -> int:
    """A port nothing listens on, for a server to take.

    Drawn below the kernel's ephemeral range: suites run side by side, and a
    socket bound to port 0 or connecting in one of them never lands there before
    our server binds it.
    """
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ranges:
            ephemeral = int(ranges.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral = 32768
    while True:
        port = _random.randrange(min(10_000, ephemeral // 2), ephemeral)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


_REFUSING: dict[int, socket.socket] = {}


def refused_port() -> int:
    """A port that refuses connections until `release`d: where Riemann is down."""
    sock = held_port()
    port = sock.getsockname()[1]
    _REFUSING[port] = sock
    return port


def release(port: int) -> None:
    """Let a sink listen on a `refused_port`: Riemann comes up."""
    _REFUSING.pop(port).close()


def wait_listening(port: int, timeout: float = 30, process: subprocess.Popen | None = None) -> None:
    """Until `port` takes connections (a server may say it started before it listens).

    Fails at once if `process`, the one that should listen, has exited.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process is not None and process.poll() is not None:
                raise AssertionError(
                    f"exited (status {process.returncode}) before listening on {port}"
                ) from None
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on {port} after {timeout:g} s") from None
            time.sleep(0.02)  # nothing to wait on: the port is polled


def wait_until(condition: Callable[[], bool], failure: str, timeout: float = 30) -> None:
    """For a state no event announces: what the kernel says of a process."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.02)


def waiting_in(pid: int) -> str:
    """The kernel function the process's main thread is blocked in ("" if it runs)."""
    with open(f"/proc/{pid}/wchan") as wchan:
        return wchan.read()


def asleep(pid: int) -> bool:
    """The process's main thread is blocked in `time.sleep`.

    A signal sent before that, while the thread waits for the GIL on its way into the
    sleep, is handled only when the sleep ends (CPython checks for signals after a
    built-in call, not before): tests that signal a sleeping program wait for this.
    """
    # clock_nanosleep from 3.11 on; 3.10 sleeps in select()
    return any(word in waiting_in(pid) for word in ("nanosleep", "select", "poll_schedule"))


def bare_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (by default `riemann_env()`'s) without riemann-auto, for the bare run a test
    compares with: no RIEMANN_* setting, no AUTO_IMPORT (the test apps' own way of
    starting it), the test apps still importable."""
    env = riemann_env() if env is None else env
    bare = {k: v for k, v in env.items() if not k.startswith("RIEMANN_") and k != "AUTO_IMPORT"}
    bare["PYTHONPATH"] = str(APPS)
    return bare


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


class Process:
    """A program in a session of its own, its output read line by line as it comes.

    Its stderr is read (with `merged`, its stdout and stderr as one stream); `ready`, a
    text to wait for before the constructor returns, `count` lines of it. A wait that
    fails kills the whole group: no server outlives the test that failed on it.
    """

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        *,
        port: int | None = None,
        ready: str | None = None,
        count: int = 1,
        merged: bool = False,
    ) -> None:
        self.port = port
        self.lines: list[str] = []
        self._new_line = threading.Condition()
        self._ended = False  # its output was read to the end
        if merged:
            out, err = subprocess.PIPE, subprocess.STDOUT
        else:
            out, err = subprocess.DEVNULL, subprocess.PIPE
        self.proc = subprocess.Popen(
            args,
            env=env,
            cwd=APPS,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            text=True,
            start_new_session=True,
        )
        stream = self.proc.stdout if merged else self.proc.stderr
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()
        if ready is not None:
            self.wait_for(ready, count)

    def _read(self, stream) -> None:
        for line in stream:
            with self._new_line:
                self.lines.append(line)
                self._new_line.notify_all()
        with self._new_line:
            self._ended = True
            self._new_line.notify_all()

    def output(self) -> str:
        """Its output so far, for a failure's message."""
        with self._new_line:
            return "".join(self.lines)

    def count(self, text: str) -> int:
        """Lines of its output so far that contain `text`."""
        with self._new_line:
            return sum(text in line for line in self.lines)

    def ours(self) -> list[str]:
        """riemann-auto's own lines."""
        with self._new_line:
            return [line for line in self.lines if line.startswith("riemann-auto")]

    def wait_for(self, text: str, count: int = 1, timeout: float = 60) -> None:
        """Until `count` lines of its output contain `text`."""
        with self._new_line:
            if (
                self._new_line.wait_for(lambda: self.count(text) >= count or self._ended, timeout)
                and self.count(text) >= count
            ):
                return
            why = "its output ended" if self._ended else f"after {timeout:g} s"
        self.kill()
        raise AssertionError(f"no {count} lines with {text!r} ({why}):\n{self.output()}")

    def wait_listening(self, timeout: float = 30) -> None:
        """Until its port takes connections."""
        assert self.port is not None, "a process with no port"
        try:
            wait_listening(self.port, timeout, self.proc)
        except AssertionError as failure:
            self.kill()
            raise AssertionError(f"{failure}:\n{self.output()}") from None

    def stop(self, sig: int = signal.SIGTERM, *, group: bool = True, timeout: float = 30) -> float:
        """Send `sig` to the whole group (as systemd, Docker or Kubernetes do) or, with
        `group` false, to the process alone (which then stops its own children); wait
        for it to exit. The seconds that took."""
        started = time.monotonic()
        if group:
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)
        self.wait_exit(timeout)
        return time.monotonic() - started

    def wait_exit(self, timeout: float = 30) -> int:
        """Until it exits (killed, and the test failed, if not within `timeout`): its status.

        Whatever it left running in its group is killed then, and its output read to
        the end.
        """
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"did not stop within {timeout:g} s:\n{self.output()}") from None
        self.kill()
        self._reader.join(10)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL to the whole group: what is left of it, whatever happened."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def close(self) -> None:
        """The end of a test, however it went: SIGTERM to the group, SIGKILL to what lingers."""
        if self.proc.poll() is None:
            with contextlib.suppress(AssertionError):  # it lingered, and was killed
                self.stop(timeout=20)
        self.kill()

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Server(Process):
    """A server started through riemann-run, ready once its stderr says `ready`, and plain
    HTTP requests to it."""

    def __init__(self, args: list[str], env: dict[str, str], port: int | None, ready: str):
        super().__init__([RIEMANN_RUN, *args], env, port=port, ready=ready)

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


def redis_server(password: str | None = None) -> Process:
    """A Redis of its own (Debian's `redis-server`), on 127.0.0.1 and a free port
    (`.port`), saving nothing, listening when this returns; `with` stops it."""
    command = shutil.which("redis-server")
    assert command, "no redis-server on PATH: apt-get install redis-server (tests/run does)"
    port = free_port()
    args = [command, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly"]
    args += ["no", "--dir", tempfile.gettempdir()]
    if password is not None:
        args += ["--requirepass", password]
    server = Process(args, dict(os.environ), port=port, merged=True)
    server.wait_listening()
    return server
