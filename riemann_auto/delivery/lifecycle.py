"""Leaving the process: one exit flush, within one deadline, whichever hook runs it.

A process may leave through atexit, through multiprocessing's finalizers (its
children never run atexit), or through SIGTERM; several of these run in the
same exit. The first fixes the deadline (now + RIEMANN_SHUTDOWN_TIMEOUT) and
every later one waits only for what is left of it.

Our SIGTERM handler may interrupt the main thread anywhere, the exit flush
included: there it must not wait for what the interrupted code holds, so it
lets that flush finish and dies afterwards. It is installed from the main
thread only (Python's rule), when a runtime is built, which is when the first
target or framework is patched: so it is there whichever thread records first.
It is installed only over the default action: a handler the program set
before stays, and one it sets later replaces ours.

After a fork the child starts over: its own senders, deadline and hooks.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import weakref

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .sender import Sender

_senders: weakref.WeakSet[Sender] = weakref.WeakSet()
_deadline: float | None = None
_exiting: int | None = None  # the thread running the exit flush
_sigterm_pending = False  # a SIGTERM arrived during our own exit flush
_atexit_registered = False
_finalizer_pid = 0


def register(sender: Sender) -> None:
    _senders.add(sender)


def arm() -> None:
    """Make sure the exit flush runs however this process leaves (called from any thread)."""
    global _atexit_registered, _finalizer_pid
    if not _atexit_registered:
        atexit.register(run_exit)
        _atexit_registered = True
    # multiprocessing's children leave through os._exit, after running their
    # own finalizers but never atexit; a forked child starts with none.
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is not None and _finalizer_pid != os.getpid():
        mp_util.Finalize(None, run_exit, exitpriority=100)
        _finalizer_pid = os.getpid()
    install_sigterm_handler()


def deadline(timeout: float) -> float:
    """The process's exit deadline, fixed by the first caller."""
    global _deadline
    if _deadline is None:
        _deadline = time.monotonic() + timeout
    return _deadline


def run_exit() -> None:
    """Flush every sender within the one deadline; a second caller waits for what is left."""
    global _exiting
    me = threading.get_ident()
    if _exiting == me:  # our own exit flush, re-entered: it is done or under way
        return
    first = _exiting is None
    if first:
        _exiting = me
    senders = list(_senders)
    timeout = max((s.shutdown_timeout for s in senders), default=0.0)
    until = deadline(timeout)
    for sender in senders:
        sender.shutdown(deadline=until)
    if first and _sigterm_pending:
        _die_of_sigterm()


def _on_sigterm(signum: int, frame: object) -> None:
    """Flush, then die of SIGTERM exactly as the program would have."""
    global _sigterm_pending
    if _exiting == threading.get_ident():
        _sigterm_pending = True  # interrupted our exit flush: it dies when done
        return
    run_exit()
    _die_of_sigterm()


def _die_of_sigterm() -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def install_sigterm_handler() -> None:
    """Ours over SIGTERM's default action, from the main thread only; else nothing."""
    if threading.current_thread() is not threading.main_thread():
        return
    import signal

    try:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):
        pass


def _after_fork_in_child() -> None:
    global _deadline, _exiting, _sigterm_pending
    _deadline = _exiting = None
    _sigterm_pending = False
    for sender in list(_senders):
        sender.after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
