"""The sender: the application's threads enqueue, one background thread delivers.

`record` is the only code that runs on the application's thread: a length
check and a deque append, no lock, no I/O, nothing that can raise. Everything
else (building events, encoding, connecting, accounting, logging) happens on
the `riemann-auto-sender` daemon thread, which batches many events per message.

What the thread cannot send (Riemann away) it moves from the queue into its
backlog (`backlog.py`), where a call holds 24 bytes, and takes from there first.
The queue's bound counts both.

A full queue does not lose the call: it is folded into a summary of its
interval (`summaries.py`), sent as `<name>-time count` and its kin, so that
Riemann's counts stay exact; with RIEMANN_AGGREGATE every call is. Riemann
being down, slow, silent or garbled costs the application nothing, and every
event ends up in exactly one column of the ledger (see `ledger.py`). A batch is
sent at most once: if its fate is unknown it counts as failed.

At exit (see `lifecycle/`) what was recorded before the exit began is
flushed within the exit deadline; what is left is counted and said in one
line. After a fork the child starts over with an empty queue, its own thread,
connection and ledger.

Green threads (gevent, eventlet): the sender's thread is a real OS thread,
started with the original `_thread.start_new_thread`, and every lock, socket
and clock it shares or uses is the original one (see `unpatched.py`), whether
the program patched before or after riemann-auto started. So it never runs on
the hub and never waits for it; and on the application's side, `record` never
waits at all: starting the thread takes its lock without blocking (whoever
holds it is starting the thread), and starting it does not wait for it to run.
"""

from __future__ import annotations

import time
from collections import deque

from .. import lifecycle, log
from . import unpatched
from .backlog import Backlog
from .backoff import Backoff
from .batch import Batch, events_in
from .ledger import Ledger
from .summaries import Summaries
from .transports import DeliveryError, Rejected, Transport, describe
from .troubles import Troubles

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..health import Health

# How often the calls a full queue folded are sent as summaries, without RIEMANN_AGGREGATE.
OVERFLOW_INTERVAL = 1.0


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
        aggregate: float = 0.0,
        health: Health | None = None,
    ) -> None:
        self._factory = transport_factory
        self.address = address
        self._queue_size = queue_size
        self._batch_size = batch_size
        # A queue smaller than a batch must wake the thread as a full batch would.
        self._wake_at = min(batch_size, queue_size)
        self._flush_interval = flush_interval
        self.shutdown_timeout = shutdown_timeout
        self._stats_interval = stats_interval
        self._stats_events = stats_events
        self._aggregate = aggregate
        self._summary_interval = aggregate or OVERFLOW_INTERVAL
        self._health = health
        if aggregate:  # every call folded: `record` is the fold
            self.record = self._fold_every_call  # type: ignore[method-assign]
        self._reset()
        try:
            # Built here, not on the sender's thread: what building it imports (ssl, for
            # TLS) must not be half done there when the program forks (see `resolvable`).
            # One that fails is built again by the thread, which says what is wrong.
            self._transport = transport_factory()
        except Exception:
            pass
        lifecycle.register(self)

    def _reset(self) -> None:
        self._queue: deque = deque()
        self._backlog = Backlog()  # older than the queue: what Riemann could not take yet
        self._room = self._queue_size  # what the queue may hold beside the backlog
        self._reports: list = []  # riemann-auto's own events, sent ahead of the queue
        self._taken = 0  # queue items taken into batches, ever
        # (items to take, summaries to make, a held lock released when they were)
        self._flushes: list[tuple[int, int, object]] = []
        # Every lock here is an original one: the sender's thread is a real OS
        # thread, and a green lock used from it misbehaves (see unpatched.py).
        self._lock = unpatched.allocate_lock()  # starting the thread, flush bookkeeping
        # A lock used as a binary semaphore: releasing it wakes the thread. Unlike
        # an Event, waking never waits for a lock, so a signal handler may do it.
        self._wake = unpatched.allocate_lock()
        self._wake.acquire()
        self._thread: int | None = None  # the sender thread's ident, once started
        self._finished = unpatched.allocate_lock()  # released when the thread ends
        self._finished.acquire()
        self._transport: Transport | None = None
        self._running = False
        self._closing = False
        self._exit_deadline = float("inf")
        self._exit_mark = 0  # queue items recorded before the exit began
        self._exit_cause: str | None = None
        self._exit_allowed = 0.0  # seconds the exit flush was given
        self._closing_claim = unpatched.allocate_lock()  # held by the one closing the books
        self._closed = unpatched.allocate_lock()  # released once the books are closed
        self._closed.acquire()
        self._ledger = Ledger()
        self._drop = self._ledger.drop_at_door
        self._overflow = self._ledger.overflow_at_door
        self._summaries = Summaries(self._drop)
        self._fold = self._summaries.fold
        self._summary_events: list = []  # the last summaries, sent ahead of the queue
        self._health_events: list = []  # the last health report, sent ahead of the queue
        interval = self._health.interval if self._health is not None else float("inf")
        self._next_health = time.monotonic() + interval
        self._summary_now = False  # a flush asked for them before their time
        self._summary_takes = 0  # summaries made, ever: a flush waits for the next one
        self._overflows_summarized = 0  # the full queue's folds the last summary covered
        self._summarized_at = time.monotonic()
        self._next_summary = self._summarized_at + self._summary_interval
        self._backoff = Backoff()
        self._troubles = Troubles(self.address)
        self._reported: dict[str, int] = {}
        self._cleared = True  # the last report said all was well (or there was none)
        self._queued_deltas: dict[str, int] = {}  # the counts of the report in `_reports`
        self._next_review = time.monotonic() + self._stats_interval

    # -- the application's side ------------------------------------------------

    def record(self, item: object) -> None:
        """Enqueue in constant time; when the queue is full, fold the call into its
        interval's summary (a plain event, which has none, is dropped and counted)."""
        queue = self._queue
        size = len(queue)
        if size < self._room:
            queue.append(item)
            if not self._running:
                self._start()
            elif size == 0 or size + 1 == self._wake_at:  # idle until now, or a full batch
                self._notify()
        elif type(item) is tuple:
            self._overflow()
            self._fold(item)
        else:
            self._drop()

    def _fold_every_call(self, item: tuple) -> None:
        """`record` with RIEMANN_AGGREGATE: every call folded, none queued."""
        self._fold(item)
        if not self._running:
            self._start()

    def flush(self, timeout: float) -> bool:
        """Wait until everything recorded so far was settled (sent, or counted lost)."""
        if not self._running:
            self._start()
        done = unpatched.allocate_lock()
        done.acquire()
        self._summary_now = True  # and what was folded so far
        # Everything taken from the queue so far, plus what waits in it now: read
        # under the ledger's lock, which taking and moving items hold.
        with self._ledger.held():
            target = self._taken + self.pending()
        with self._lock:
            self._flushes.append((target, self._summary_takes + 1, done))
        self._notify()
        if done.acquire(timeout=max(timeout, 0.0)):
            return True
        # It may have been released just now; else the thread releases it later.
        return done.acquire(blocking=False)

    def pending(self) -> int:
        """Items waiting in the queue (its backlog included)."""
        return len(self._backlog) + len(self._queue)

    def ledger(self) -> dict[str, int]:
        """The ledger in events: produced, acknowledged, dropped, failed, rejected,
        pending (queued or awaiting an answer) and reports (riemann-auto's own,
        among the produced). Closed, and final, once the exit flush is done."""
        with self._ledger.held():
            queued = self._backlog.events + sum(map(events_in, list(self._queue)))
            queued += self._waiting_ahead()
            return self._ledger.counts(queued, self._summaries.folded())

    @property
    def sent(self) -> int:
        return self.ledger()["acknowledged"]

    @property
    def dropped(self) -> int:
        return self.ledger()["dropped"]

    @property
    def failed(self) -> int:
        return self.ledger()["failed"]

    @property
    def rejected(self) -> int:
        return self.ledger()["rejected"]

    def counters(self) -> dict[str, int]:
        """What the self-report events count (totals; the events carry the differences)."""
        counts = self.ledger()
        transport = self._transport
        return {
            "dropped": counts["dropped"],
            "failed": counts["failed"],
            "rejected": counts["rejected"],
            "reconnects": max(transport.connects - 1, 0) if transport else 0,
            "overflowed": self._ledger.overflows(),
        }

    def _notify(self) -> None:
        try:
            self._wake.release()
        except RuntimeError:  # already awake
            pass

    def _start(self) -> None:
        """Start the thread; never waits (a green thread here must not block the hub).

        Whoever holds the lock is starting it, and the queued item waits for it.
        """
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self._running or self._closing:
                return
            try:
                lifecycle.start_thread_taking_no_signals(self._thread_main)
            except RuntimeError:  # interpreter shutting down, or no more threads
                return
            self._running = True
        finally:
            self._lock.release()
        lifecycle.arm()

    def _thread_main(self) -> None:
        """The real OS thread `riemann-auto-sender`: unknown to `threading`, like a
        daemon thread it does not hold up the exit."""
        self._thread = unpatched.get_ident()
        try:
            self._run()
        except BaseException:  # nothing from here may reach the program's stderr
            pass
        finally:
            self._finished.release()

    # -- exit --------------------------------------------------------------------

    def shutdown(self, timeout: float | None = None, *, deadline: float | None = None) -> None:
        """Deliver what was recorded before now (one last attempt even if Riemann was
        down) until `deadline`, then close the books: what is left counts as failed
        (awaiting an answer) or dropped (never sent), and is said in one line.

        A second caller, or one interrupting the first, waits for what is left of
        the deadline, and no more: every wait here has a timeout, so a signal
        handler can never deadlock on what the code it interrupted holds.
        """
        allowed = self.shutdown_timeout if timeout is None else timeout
        if deadline is None:
            deadline = time.monotonic() + allowed
        if not self._closing_claim.acquire(blocking=False):
            if self._closed.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
                self._closed.release()
            return
        try:
            self._close_books(deadline, allowed)
        finally:
            self._closed.release()

    def _close_books(self, deadline: float, allowed: float) -> None:
        self._exit_allowed = allowed
        before = self.ledger()
        overflow_before = self._ledger.overflows()
        with self._ledger.held():
            self._exit_mark = self._taken + self.pending()
            self._exit_deadline = deadline
            self._closing = True
        self._notify()
        stuck = False
        if self._running and self._thread != unpatched.get_ident():
            # the thread may be starting still: it ends (releases `_finished`) all the same
            if self._finished.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
                self._finished.release()
            else:
                stuck = True
        with self._ledger.held():
            late = self._settle_leftovers()
            counts = self._ledger.final = self._ledger.counts(0, self._summaries.folded())
        lost = self._lost(counts) - self._lost(before)
        cause = self._deadline_cause() if stuck else self._exit_cause
        full = self._ledger.overflows() > overflow_before
        self._troubles.at_exit(counts, lost, cause, late, queue_was_full=full)

    @staticmethod
    def _lost(counts: dict[str, int]) -> int:
        return counts["failed"] + counts["dropped"]

    def _settle_leftovers(self) -> int:
        """With the ledger's lock held: what is still queued is dropped, what awaits
        an answer failed. Returns the events recorded after the exit began."""
        ledger = self._ledger
        queue, items = self._queue, self._ahead()
        self._reports, self._health_events, self._summary_events = [], [], []
        before_mark = max(self._exit_mark - self._taken, 0)
        late = 0
        backlog = self._backlog.items()
        self._backlog.clear()
        items += backlog
        before_mark = max(before_mark - len(backlog), 0)
        for _ in range(len(queue)):  # a thread still recording must not keep this going
            item = queue.popleft()
            items.append(item)
            if before_mark:
                before_mark -= 1
            else:
                late += events_in(item)
        leftover = sum(map(events_in, items))
        ledger.taken += leftover
        ledger.dropped += leftover
        ledger.failed += ledger.in_flight()
        return late

    # -- the background thread ---------------------------------------------------

    def _run(self) -> None:
        while not self._closing:
            woken = self._wake.acquire(timeout=self._wait_time())
            try:
                # Woken by a full batch: full batches only, the rest waits for the
                # flush interval; a lone event per round trip would cost the program
                # a system call or two per event under a steady load.
                self._summarize()
                self._report_health()
                self._pump(whole_batches_only=woken and not self._flushes)
                if not self._closing:
                    self._move_to_backlog()
                    self._tick()
            except Exception as exc:  # a bug here must not kill the thread
                log.debug(f"sender error: {exc!r}")
        try:
            self._flush_for_exit()
        except Exception as exc:
            log.debug(f"sender error at exit: {exc!r}")

    def _ahead(self) -> list:
        """What goes out ahead of the queue: reports, health, summaries."""
        return self._reports + self._health_events + self._summary_events

    def _waiting_ahead(self) -> int:
        """How many events wait ahead of the queue (`_ahead()`, without building it)."""
        return len(self._reports) + len(self._health_events) + len(self._summary_events)

    def _wait_time(self) -> float:
        """Until the next flush, or, with nothing to send, until the next report is due:
        an idle thread wakes a few times a minute, not five times a second (the first
        record wakes it)."""
        due = min(self._next_review, self._next_health)
        if self._aggregate or self._ledger.overflows() != self._overflows_summarized:
            due = min(due, self._next_summary)
        if self.pending() or self._waiting_ahead():
            due = min(due, time.monotonic() + self._flush_interval)
        elif self._flushes:
            due = time.monotonic()
        return max(due - time.monotonic(), 0.0)

    def _summarize(self, final: bool = False) -> None:
        """Every summary interval (or for a flush, or at exit): what was folded since the
        last time, as events sent ahead of the queue. While the last ones are not sent
        (Riemann away), none are made: the counts go on adding up, and the next summary
        covers the whole time, so that memory holds one interval whatever its length."""
        now = time.monotonic()
        if not (final or self._summary_now or now >= self._next_summary):
            return
        if self._summary_events and not final:
            return
        self._summary_now = False
        self._summary_takes += 1
        self._overflows_summarized = self._ledger.overflows()
        self._next_summary = now + self._summary_interval
        seconds, self._summarized_at = now - self._summarized_at, now
        time_micros = time.time_ns() // 1000
        events = []
        for interval in self._summaries.take():
            events += interval.events(seconds, time_micros)
        if events:
            with self._ledger.lock:
                self._ledger.summaries += len(events)
                self._summary_events += events

    def _pump(self, whole_batches_only: bool = False) -> None:
        while not self._closing and not self._backoff.waiting(time.monotonic()):
            if whole_batches_only and self.pending() < self._wake_at:
                break
            if not (self.pending() or self._waiting_ahead()):
                break
            if self._open() is not None:
                break
            batch = self._take(self.pending())
            if batch is None:
                break
            self._deliver(batch)
            self._tick()  # a queue that never empties still gets its reviews
        self._release_flushes()

    def _flush_for_exit(self) -> None:
        """Deliver up to the exit mark, within the exit deadline; stop at the first failure."""
        try:
            self._summarize(final=True)
            while self._taken < self._exit_mark or self._waiting_ahead():
                if time.monotonic() >= self._exit_deadline:
                    self._exit_cause = self._deadline_cause()
                    return
                error = self._open(self._exit_deadline)
                if error is None:
                    batch = self._take(self._exit_mark - self._taken)
                    if batch is None:
                        return
                    error = self._deliver(batch, self._exit_deadline)
                if error is not None:
                    self._exit_cause = self._exit_reason(error)
                    return
        finally:
            self._release_flushes()
            if self._transport is not None:
                self._transport.close()

    def _take(self, most: int) -> Batch | None:
        """The next batch: pending reports and summaries first, then at most `most` queue
        items, up to RIEMANN_BATCH_SIZE events (a call that raised keeps its two together)."""
        offset = time.time_ns() - time.perf_counter_ns()
        ledger, queue = self._ledger, self._queue
        with ledger.lock:
            if ledger.final is not None:
                return None
            items, self._reports = self._reports, []
            for waiting in (self._health_events, self._summary_events):
                room = max(self._batch_size - len(items), 0)
                items += waiting[:room]
                del waiting[:room]
            room = self._batch_size - len(items)  # events all: one each
            backlog = self._backlog
            taken, room = backlog.take(items, most, room)  # older than the queue
            if taken:
                self._room = self._queue_size - len(backlog)
            if backlog:  # the batch is full: the queue waits behind what is older
                most = taken
            popleft = queue.popleft
            while taken < most and queue:
                events = events_in(queue[0])
                if events > room and items:
                    break
                items.append(popleft())
                room -= events
                taken += 1
            size = self._batch_size - room
            if not items:
                return None
            batch = Batch(items, offset, size)
            ledger.taken += batch.size
            self._taken += taken
        return batch

    def _move_to_backlog(self) -> None:
        """A queue left holding a batch or more (the sender could not send it) moved to
        the backlog, where a call holds 24 bytes instead of some 150.

        In steps of a thousand, each under the ledger's lock, which readers on the
        program's threads wait for; the queue's room shrinks first, so that the
        queue and the backlog never hold more than RIEMANN_QUEUE_SIZE together."""
        queue, backlog = self._queue, self._backlog
        if len(queue) < self._wake_at:
            return
        left = len(queue)  # what is there now: a program recording on may not keep this going
        self._room = self._queue_size - len(backlog) - left
        while left:
            with self._ledger.lock:
                # From the exit on, what is queued is the exit's to count.
                if self._closing or self._ledger.final is not None:
                    return
                step = min(left, 1000)
                backlog.absorb(queue, step)
                left -= step
        self._room = self._queue_size - len(backlog)

    def _open(self, deadline: float | None = None) -> Exception | None:
        """Have the transport ready to write a batch; the failure if it is not.

        A failure here costs no event: nothing was taken off the queue, and
        what is queued waits for Riemann, within RIEMANN_QUEUE_SIZE.
        """
        try:
            if self._transport is None:
                self._transport = self._factory()
            self._transport.open(deadline)
        except Exception as exc:
            if self._transport is not None:
                self._transport.close()
            self._backoff.failed()
            if not self._closing:  # at exit, the exit line says it
                self._troubles.no_connection(exc, self._queue_size)
            log.debug(f"cannot send to {self.address}: {describe(exc)}")
            return exc
        return None

    def _deliver(self, batch: Batch, deadline: float | None = None) -> Exception | None:
        """Send one batch and book its fate; the failure if it was not delivered."""
        ledger = self._ledger
        try:
            if self._transport is None:
                self._transport = self._factory()
            unsendable = self._transport.send(batch, deadline)
        except Rejected as exc:
            ledger.settle(rejected=batch.size)
            self._backoff.succeeded()
            self._troubles.rejected(exc, batch.size)
            return None
        except Exception as exc:
            delivered = exc.delivered if isinstance(exc, DeliveryError) else 0
            ledger.settle(acknowledged=delivered, failed=batch.size - delivered)
            if self._transport is not None:
                self._transport.close()
            self._backoff.failed()
            if not self._closing:  # at exit, the exit line says it
                self._troubles.batch_failed(exc, batch.size - delivered)
            log.debug(f"{batch.size} events not delivered to {self.address}: {describe(exc)}")
            return exc
        ledger.settle(acknowledged=batch.size - unsendable, dropped=unsendable)
        self._backoff.succeeded()
        return None

    def _deadline_cause(self) -> str:
        return self._troubles.deadline_passed(self._exit_allowed)

    def _exit_reason(self, exc: Exception) -> str:
        if time.monotonic() >= self._exit_deadline:
            return self._deadline_cause()
        return self._troubles.problem(exc)

    def _report_health(self) -> None:
        """Every health interval: the process's readings, replacing a report not yet sent
        (a snapshot: the newer one says more)."""
        health = self._health
        if health is None or time.monotonic() < self._next_health:
            return
        self._next_health = time.monotonic() + health.interval
        try:
            events = health.events(self.pending())
        except Exception as exc:
            log.debug(f"health readings failed: {exc!r}")
            return
        ledger = self._ledger
        with ledger.lock:
            ledger.reports += len(events) - len(self._health_events)
            self._health_events = events

    def start(self) -> None:
        """Start the thread now, not at the first event: health reports need it."""
        if not self._running:
            self._start()

    def _release_flushes(self) -> None:
        if self._flushes and not self._summary_events:
            with self._lock:
                waiting = []
                for target, summaries, done in self._flushes:
                    if target <= self._taken and summaries <= self._summary_takes:
                        done.release()
                    else:
                        waiting.append((target, summaries, done))
                self._flushes = waiting

    def _tick(self) -> None:
        """Say when the queue overflows; every stats interval, review and report."""
        self._troubles.overflow(self._ledger.overflows(), self._queue_size)
        now = time.monotonic()
        if now < self._next_review:
            return
        self._next_review = now + self._stats_interval
        counts = self.ledger()
        self._troubles.review(counts)
        self._report()

    def _report(self) -> None:
        """riemann-auto's own events: what went wrong since the last report, if anything.

        A report still queued when the next is due (Riemann was away) is withdrawn,
        not dropped: the newer report carries its counts too, so that what an outage
        cost reaches Riemann's index once it is back.
        """
        counters = self.counters()
        deltas = {k: v - self._reported.get(k, 0) for k, v in counters.items()}
        self._reported = counters
        ledger = self._ledger
        with ledger.lock:
            stale, self._reports = self._reports, []
            ledger.reports -= len(stale)
        if stale:
            deltas = {k: v + self._queued_deltas.get(k, 0) for k, v in deltas.items()}
        quiet = not any(deltas.values())
        # After a report of trouble, one all-clear (every count 0, state ok), so
        # that Riemann's index does not show the trouble until the events expire.
        if (quiet and self._cleared and not stale) or self._stats_events is None:
            return
        self._cleared = quiet
        log.debug("since the last report: " + ", ".join(f"{k} {v}" for k, v in deltas.items()))
        events = self._stats_events(deltas)
        with ledger.lock:
            ledger.reports += len(events)
            self._reports = events
            self._queued_deltas = deltas

    # -- what lifecycle asks of a sender (besides `shutdown`) ---------------------

    def after_fork_in_child(self, keep_queue: bool = False) -> None:
        """Start over in a forked child: the parent's thread, connection and ledger
        are not this process's. With `keep_queue`, what the parent queued is
        delivered from here (uWSGI's first worker: its master never sends)."""
        transport = self._transport
        kept = [*self._backlog.items(), *self._queue] if keep_queue else []
        self._reset()
        if transport is not None:
            transport.forget()
        for item in kept:
            self.record(item)
        if self._health is not None:
            self._health.after_fork()
            self.start()  # it reports for itself from its first interval

    def queue_only(self) -> None:
        """Never start the thread here: `record` only queues (uWSGI's master, which
        forks its workers behind Python's back: see lifecycle/uwsgi.py)."""
        self._running = True
