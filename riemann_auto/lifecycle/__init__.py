"""A process's life as riemann-auto sees it: fork, exit and SIGTERM, all in this file.

Each `Sender` registers here; this module decides when senders flush and
when they start over, and asks nothing of them but `shutdown`,
`after_fork_in_child` and `queue_only`. Servers that start or end processes
behind Python's back have a module each: `uwsgi.py`, `celery_pool.py`.

Exit. A process may leave through atexit, through multiprocessing's
finalizers (its children never run atexit), or through SIGTERM; several of
these run in the same exit. The first fixes the deadline (now +
RIEMANN_SHUTDOWN_TIMEOUT) and every later one waits only for what is left of it.

SIGTERM. Our handler may interrupt the main thread anywhere, the exit flush
included: there it must not wait for what the interrupted code holds, so it
lets that flush finish and dies afterwards. It is installed from the main
thread only (Python's rule), at start-up and when a runtime is built, which
is when the first target or framework is patched: so it is there whichever
thread records first. It is installed only over the default action: a
handler the program set before stays, and one it sets later replaces ours.
Inside uWSGI none is installed: uWSGI owns the signals of its processes.

Fork. After `os.fork` the child starts over: its own senders, deadline and
hooks; after uWSGI's fork too, which Python is not told of (see `uwsgi.py`).
Celery's prefork children flush when Celery says they leave (see
`celery_pool.py`).
"""

from __future__ import annotations

import _signal  # not `signal`: its enums cost a start-up 3 ms
import atexit
import os
import sys
import time

from ..delivery import unpatched

TYPE_CHECKING = False
if TYPE_CHECKING:
    import weakref
    from collections.abc import Callable

    from .sender import Sender

# Imported at every start-up (for the SIGTERM handler and the fork hooks): what only
# a sender needs is imported with the first sender.
_senders: weakref.WeakSet[Sender] | None = None
_senders_made = unpatched.allocate_lock()  # two first senders at once make one set
_deadline: float | None = None
_exiting: int | None = None  # the thread running the exit flush
_sigterm_pending = False  # a SIGTERM arrived during our own exit flush
_atexit_registered = False
_finalizer_pid = 0
_multiprocessing_child = False  # forked by multiprocessing: SIGTERM keeps its default
_sigterm_held: set[int] = set()  # threads that blocked SIGTERM across their fork
# This module is imported by the bootstrap, on the main thread; a forked child's is the
# thread that forked. Not `threading.main_thread()`: before 3.13 the thread that first
# imports `threading` becomes its main thread, and riemann-auto may be on another.
_main_ident = unpatched.get_ident()


def on_main_thread() -> bool:
    return unpatched.get_ident() == _main_ident


def register(sender: Sender) -> None:
    global _senders
    import weakref

    from . import celery_pool, uwsgi

    with _senders_made:
        if _senders is None:
            _senders = weakref.WeakSet()
    _senders.add(sender)
    celery_pool.watch(run_exit)
    if uwsgi.embedded() is not None:
        uwsgi.prepare(_after_uwsgi_fork)
        if uwsgi.in_master():
            sender.queue_only()  # no thread in the process uWSGI forks from


def arm() -> None:
    """Make sure the exit flush runs however this process leaves (called from any thread)."""
    global _atexit_registered, _finalizer_pid
    from . import celery_pool, uwsgi

    if not _atexit_registered:
        atexit.register(run_exit)
        _atexit_registered = True
    # multiprocessing's children leave through os._exit, after running their
    # own finalizers but never atexit; a forked child starts with none.
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is not None and _finalizer_pid != os.getpid():
        mp_util.Finalize(None, run_exit, exitpriority=100)
        _finalizer_pid = os.getpid()
        # A child multiprocessing starts clears its finalizers after our fork hook ran
        # (one that started a sender, for its health, armed then): its after-fork hooks,
        # which run next, arm again.
        mp_util.register_after_fork(_rearm, _rearm)
    celery_pool.watch(run_exit)
    uwsgi.on_worker_exit(run_exit)
    install_sigterm_handler()


class _Rearm:
    """multiprocessing's after-fork hook (it keeps a weak reference to its object)."""

    def __call__(self, _: object) -> None:
        global _finalizer_pid
        _finalizer_pid = 0
        arm()


_rearm = _Rearm()


def deadline(timeout: float) -> float:
    """The process's exit deadline, fixed by the first caller."""
    global _deadline
    if _deadline is None:
        _deadline = time.monotonic() + timeout
    return _deadline


def run_exit() -> None:
    """Flush every sender within the one deadline; a second caller waits for what is left."""
    global _exiting
    me = unpatched.get_ident()
    if _exiting == me:  # our own exit flush, re-entered: it is done or under way
        return
    first = _exiting is None
    if first:
        _exiting = me
    senders = list(_senders or ())
    timeout = max((s.shutdown_timeout for s in senders), default=0.0)
    until = deadline(timeout)
    for sender in senders:
        sender.shutdown(deadline=until)
    if first and _sigterm_pending:
        _die_of_sigterm()


def _on_sigterm(signum: int, frame: object) -> None:
    """Flush, then die of SIGTERM exactly as the program would have."""
    global _sigterm_pending
    if _exiting == unpatched.get_ident():
        _sigterm_pending = True  # interrupted our exit flush: it dies when done
        return
    run_exit()
    _die_of_sigterm()


def start_thread_taking_no_signals(function: Callable[[], None]) -> None:
    """Start `function` on a new real thread to which the process's signals never go.

    A Python handler runs on the main thread only, and only once that thread
    wakes: a signal the kernel hands to our thread while the main thread blocks
    in C (a multiprocessing worker waiting on its queue's semaphore, a program in
    `time.sleep`) would wait that long, or forever. A thread inherits its
    creator's signal mask, so every signal it may is blocked in the creating
    thread for the instant of the creation: the new thread has them blocked from
    its first instruction (had it blocked them itself, a SIGTERM arriving before
    it first ran could go to it), and one arriving meanwhile waits for the creator.
    """
    try:
        before = _signal.pthread_sigmask(_signal.SIG_BLOCK, _ASYNC_SIGNALS)
    except (AttributeError, OSError, ValueError):
        before = None
    try:
        unpatched.start_new_thread(function, ())
    finally:
        if before is not None:
            _signal.pthread_sigmask(_signal.SIG_SETMASK, before)


def _async_signals() -> set[int]:
    synchronous = ("SIGKILL", "SIGSTOP", "SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGABRT")
    try:
        valid = _signal.valid_signals()
    except AttributeError:
        return set()
    return valid - {getattr(_signal, name, None) for name in synchronous}


_ASYNC_SIGNALS = _async_signals()


def _die_of_sigterm() -> None:
    _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
    os.kill(os.getpid(), _signal.SIGTERM)


def install_sigterm_handler() -> None:
    """Ours over SIGTERM's default action, from the main thread only; else nothing.

    Not in a multiprocessing child (see `_leave_sigterm_to_multiprocessing`).
    Off the main thread `signal.signal` raises ValueError: nothing is done there.
    """
    if _multiprocessing_child or _in_uwsgi():
        return
    try:
        if _signal.getsignal(_signal.SIGTERM) == _signal.SIG_DFL:
            _signal.signal(_signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):
        pass


def _in_uwsgi() -> bool:
    if "uwsgi" not in sys.modules:
        return False
    from . import uwsgi

    return uwsgi.embedded() is not None


def _hold_sigterm_across_fork() -> None:
    """Before `os.fork`, with our handler in place: SIGTERM blocked in the forking thread.

    The child inherits our handler until `_after_fork_in_child` puts the default
    back, and CPython forgets a signal its handler caught before the child's
    interpreter was reinitialized (`_PySignal_AfterFork` clears the pending
    flags): a SIGTERM sent as soon as `fork` returned (`Pool.terminate()` on a
    worker not yet scheduled) would be lost, and the worker, and the parent
    joining it, wait forever. Blocked, it stays pending in the kernel until the
    child's disposition is settled; the parent gets any SIGTERM of its own after.
    Per thread: the mask is, and two threads may fork at once.
    """
    try:
        if _signal.getsignal(_signal.SIGTERM) is _on_sigterm:
            before = _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGTERM})
            if _signal.SIGTERM not in before:
                _sigterm_held.add(unpatched.get_ident())
    except (AttributeError, OSError, ValueError):
        pass


def _release_sigterm() -> None:
    """After the fork, in parent and child: SIGTERM unblocked again if we blocked it."""
    me = unpatched.get_ident()
    if me in _sigterm_held:
        _sigterm_held.discard(me)
        try:
            _signal.pthread_sigmask(_signal.SIG_UNBLOCK, {_signal.SIGTERM})
        except (AttributeError, OSError, ValueError):
            pass


def _after_fork_in_child(keep_queues: bool = False) -> None:
    global _deadline, _exiting, _sigterm_pending, _main_ident, _senders_made
    try:
        _main_ident = unpatched.get_ident()
        _senders_made = unpatched.allocate_lock()  # another thread may have held it
        _deadline = _exiting = None
        _sigterm_pending = False
        _leave_sigterm_to_multiprocessing()
        for sender in list(_senders or ()):
            sender.after_fork_in_child(keep_queue=keep_queues)
    finally:
        _release_sigterm()  # a SIGTERM held since the fork acts now, by the child's disposition
        _sigterm_held.clear()  # other threads of the parent, forking too: not here


_MULTIPROCESSING_FORKS = ("multiprocessing/popen_fork.py", "multiprocessing/forkserver.py")


def _leave_sigterm_to_multiprocessing() -> None:
    """In a process multiprocessing forked, SIGTERM kills at once, as without us.

    (A spawned pool worker is found by `bootstrap`, see there.)

    `Process.terminate()` (and `Pool.__exit__`, which terminates its workers)
    sends SIGTERM expecting that. A Python-level handler runs only when the
    main thread next checks for signals, and CPython misses a signal that
    arrives just before the thread blocks on a multiprocessing lock: the
    worker, and the parent joining it, would wait forever. A child that leaves
    by itself still flushes (multiprocessing's finalizers); one terminated
    loses what it had not sent yet.
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename.endswith(_MULTIPROCESSING_FORKS):
            leave_sigterm_default()
            return
        frame = frame.f_back


def leave_sigterm_default() -> None:
    """SIGTERM back to its default action, for good, if ours was in place."""
    global _multiprocessing_child
    _multiprocessing_child = True
    if _signal.getsignal(_signal.SIGTERM) is _on_sigterm:
        _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)


def _after_uwsgi_fork() -> None:
    """uwsgi.post_fork_hook: as after os.fork; the first worker delivers what the master queued."""
    from . import uwsgi

    _after_fork_in_child(keep_queues=uwsgi.first_worker_first_spawn())
    uwsgi.on_worker_exit(run_exit)


os.register_at_fork(
    before=_hold_sigterm_across_fork,
    after_in_parent=_release_sigterm,
    after_in_child=_after_fork_in_child,
)
