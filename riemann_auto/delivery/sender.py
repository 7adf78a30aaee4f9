"""The sender: the application's threads enqueue, one background thread delivers.

`record` is the only code that runs on the application's thread: a length
check and a deque append, no lock, no I/O, nothing that can raise. Everything
else (building events, encoding, connecting, retrying) happens on the
`riemann-auto-sender` daemon thread, which batches many events per message.

A full queue drops the new event and counts it; Riemann being down, slow or
silent costs the application nothing but those events. After a fork the child
starts over with an empty queue, its own thread and its own connection. At exit
(and on a SIGTERM the program does not handle itself) what is queued is flushed
within a bounded time.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import weakref
from collections import deque

from .. import log
from .batch import Batch
from .transports import Rejected, Transport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

MAX_BACKOFF = 10.0

_senders: weakref.WeakSet[Sender] = weakref.WeakSet()


class Sender:
    """A bounded queue drained by a background thread into a `Transport`.

    Queue items are `Event`s, or tuples whose first element is a `Probe`:
    probes record raw timings, and the transport has them rendered (see
    `Batch`) off the application's thread.
    """

    def __init__(
        self,
        transport_factory: Callable[[], Transport],
        *,
        address: str = "Riemann",
        queue_size: int = 10_000,
        batch_size: int = 256,
        flush_interval: float = 0.2,
        shutdown_timeout: float = 2.0,
        stats_interval: float = 10.0,
        stats_events: Callable[[dict[str, int]], list] | None = None,
    ) -> None:
        self._factory = transport_factory
        self.address = address
        self._queue_size = queue_size
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._shutdown_timeout = shutdown_timeout
        self._stats_interval = stats_interval
        self._stats_events = stats_events
        self._exit_hooks_installed = False
        self._reset()
        _senders.add(self)

    def _reset(self) -> None:
        self._queue: deque = deque()
        self._taken = 0  # items the sender thread has taken from the queue, ever
        self._flushes: list[tuple[int, threading.Event]] = []  # (items to take, then set)
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._transport: Transport | None = None
        self._running = False
        self._closing = False
        self._down_until = 0.0
        self._backoff = 0.0
        self._outage = False
        self.dropped = 0  # queue full
        self.failed = 0  # in a batch that could not be delivered
        self.rejected = 0  # Riemann answered ok=false
        self.sent = 0
        self._reported: dict[str, int] = {}
        self._next_stats = time.monotonic() + self._stats_interval

    # -- the application's side ------------------------------------------------

    def record(self, item: object) -> None:
        """Enqueue in constant time; drop and count when the queue is full."""
        queue = self._queue
        if len(queue) < self._queue_size:
            queue.append(item)
            if not self._running:
                self._start()
            elif len(queue) == self._batch_size:
                self._wake.set()
        else:
            self.dropped += 1

    def flush(self, timeout: float) -> bool:
        """Wait until everything recorded so far was handed to the transport."""
        if not self._running:
            self._start()
        done = threading.Event()
        with self._lock:  # everything taken from the queue so far, plus what is in it now
            self._flushes.append((self._taken + len(self._queue), done))
        self._wake.set()
        return done.wait(timeout)

    def shutdown(self, timeout: float | None = None) -> None:
        """Deliver what is queued (one last attempt even if Riemann was down), then stop."""
        thread = self._thread
        if not self._running or thread is None or thread is threading.current_thread():
            return
        self._closing = True
        self._wake.set()
        thread.join(self._shutdown_timeout if timeout is None else timeout)

    def pending(self) -> int:
        return len(self._queue)

    def _start(self) -> None:
        with self._lock:
            if self._running or self._closing:
                return
            thread = threading.Thread(target=self._run, name="riemann-auto-sender", daemon=True)
            try:
                thread.start()
            except RuntimeError:  # interpreter shutting down
                return
            self._thread = thread
            self._running = True
            self._install_exit_hooks()

    def _install_exit_hooks(self) -> None:
        if not self._exit_hooks_installed:
            atexit.register(self.shutdown)
            self._exit_hooks_installed = True
        # multiprocessing's children leave through os._exit, after running
        # their own finalizers but never atexit.
        mp_util = sys.modules.get("multiprocessing.util")
        if mp_util is not None:
            mp_util.Finalize(None, self.shutdown, exitpriority=100)
        _install_sigterm_handler()

    # -- the background thread ---------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            closing = self._closing
            try:
                self._pump(closing)
                self._report_stats()
            except Exception as exc:  # a bug here must not kill the thread
                log.debug(f"sender error: {exc!r}")
            if closing:
                self._running = False
                if self._transport is not None:
                    self._transport.close()
                return

    def _pump(self, closing: bool) -> None:
        queue = self._queue
        while queue:
            if not closing and time.monotonic() < self._down_until:
                return
            popleft = queue.popleft
            items = [popleft() for _ in range(min(len(queue), self._batch_size))]
            delivered = self._deliver(Batch(items, time.time_ns() - time.perf_counter_ns()))
            self._taken += len(items)
            if not delivered and closing:
                self._abandon()
                break
        self._release_flushes()

    def _release_flushes(self) -> None:
        if self._flushes:
            with self._lock:
                waiting = []
                for target, done in self._flushes:
                    if target <= self._taken:
                        done.set()
                    else:
                        waiting.append((target, done))
                self._flushes = waiting

    def _deliver(self, batch: Batch) -> bool:
        try:
            if self._transport is None:
                self._transport = self._factory()
            self._transport.send(batch)
        except Rejected as exc:
            count = batch.count or len(batch.items)
            self.rejected += count
            log.warn(f"Riemann at {self.address} refused {count} events: {exc}")
            return True
        except Exception as exc:
            self.failed += batch.count or len(batch.items)
            if self._transport is not None:
                self._transport.close()
            self._backoff = min(max(self._backoff * 2, 0.1), MAX_BACKOFF)
            self._down_until = time.monotonic() + self._backoff
            reason = f"{type(exc).__name__}: {exc}"
            if not self._outage:
                self._outage = True
                log.warn(
                    f"cannot send to Riemann at {self.address} ({reason}); the program runs "
                    f"on, events wait in a queue of {self._queue_size} and are dropped "
                    "past it until Riemann answers"
                )
            else:
                log.debug(f"send to {self.address} failed again ({reason})")
            return False
        self.sent += batch.count
        self._backoff = 0.0
        if self._outage:
            self._outage = False
            log.warn(
                f"Riemann at {self.address} answers again "
                f"({self.failed + self.dropped} events lost so far)"
            )
        return True

    def _abandon(self) -> None:
        """At exit with Riemann unreachable: count what is left as failed."""
        queue = self._queue
        while queue:
            queue.popleft()
            self.failed += 1
            self._taken += 1

    def counters(self) -> dict[str, int]:
        transport = self._transport
        return {
            "dropped": self.dropped + (transport.dropped if transport else 0),
            "failed": self.failed,
            "rejected": self.rejected,
            "reconnects": max(transport.connects - 1, 0) if transport else 0,
        }

    def _report_stats(self) -> None:
        now = time.monotonic()
        if now < self._next_stats:
            return
        self._next_stats = now + self._stats_interval
        counters = self.counters()
        deltas = {k: v - self._reported.get(k, 0) for k, v in counters.items()}
        self._reported = counters
        if not any(deltas.values()):
            return
        log.debug("since the last report: " + ", ".join(f"{k} {v}" for k, v in deltas.items()))
        if self._stats_events is not None:
            for event in self._stats_events(deltas):
                self._queue.append(event)

    def _after_fork_in_child(self) -> None:
        transport = self._transport
        self._reset()
        if transport is not None:
            transport.forget()


def _after_fork_in_child() -> None:
    for sender in list(_senders):
        sender._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _on_sigterm(signum: int, frame: object) -> None:
    """Flush, then die of SIGTERM exactly as the program would have."""
    import signal

    for sender in list(_senders):
        sender.shutdown()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _install_sigterm_handler() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    import signal

    try:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):
        pass
