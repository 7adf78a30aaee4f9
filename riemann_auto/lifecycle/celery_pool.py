"""Celery's prefork pool: children that leave behind Python's back.

Celery's prefork children (billiard) leave through `os._exit` with no atexit
and no finalizer; the last thing they run is Celery's
`worker_process_shutdown` signal, which runs the exit flush. Celery also asks
the kernel to SIGKILL each child when its parent dies (`PR_SET_PDEATHSIG`),
and Linux means the parent *thread*. With a broker Celery polls (kombu's
filesystem or SQL transports: no event loop), the children billiard forks to
replace recycled ones (--max-tasks-per-child) come from its supervisor thread,
which ends as a warm shutdown closes the pool, before or after the children
have read their order to stop: those it outruns are killed, with the events
they hold (bare, nothing is lost, but a child killed while it holds the pool's
queue lock hangs the worker at exit). So between tasks that signal is SIGTERM,
which billiard's handler turns into a clean exit (through `finally` blocks,
the lock's included, and `worker_process_shutdown`): the child leaves as when
told to stop. While a task runs it is Celery's SIGKILL, as bare; while the
exit flush runs, none.

Nothing here imports celery before the program has: it asks `sys.modules`.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

_connected = False


def watch(run_exit: Callable[[], None]) -> None:
    """With Celery loaded: each pool child flushes as it leaves, and leaves cleanly between tasks.

    Connected as soon as the program has Celery and a sender (in the worker's main
    process, before it forks its children: a child's start is seen too).
    """
    global _connected
    if _connected or "celery" not in sys.modules:
        return
    try:
        from celery import signals
    except Exception:
        return

    def flush(**_: object) -> None:
        _set_death_signal(0)
        try:
            run_exit()
        finally:
            _set_death_signal(_celery_death_signal)

    uid = "riemann_auto."
    signals.worker_process_init.connect(_pool_child_ready, weak=False, dispatch_uid=uid + "init")
    signals.task_prerun.connect(_task_running, weak=False, dispatch_uid=uid + "busy")
    signals.task_postrun.connect(_between_tasks, weak=False, dispatch_uid=uid + "idle")
    signals.worker_process_shutdown.connect(flush, weak=False, dispatch_uid=uid + "exit")
    _connected = True


_PR_SET_PDEATHSIG, _PR_GET_PDEATHSIG = 1, 2
_prctl: Callable[..., int] | None = None  # in a Celery pool child on Linux
_celery_death_signal = 0  # the parent-death signal Celery asked for (SIGKILL)


def _pool_child_ready(**_: object) -> None:
    """`worker_process_init`: Celery has just set the child's parent-death signal."""
    global _prctl, _celery_death_signal
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
        current = ctypes.c_int(0)
        if prctl(_PR_GET_PDEATHSIG, ctypes.byref(current), 0, 0, 0) != 0 or not current.value:
            return
    except Exception:  # not Linux: no such signal
        return
    _prctl, _celery_death_signal = prctl, current.value
    _between_tasks()


def _task_running(**_: object) -> None:
    """`task_prerun`: while a task runs, the parent-death signal is Celery's, as bare."""
    _set_death_signal(_celery_death_signal)


def _between_tasks(**_: object) -> None:
    """`task_postrun` (and a new child): waiting for work, the child dies of SIGTERM.

    billiard's handler for it (SIG_DFL until billiard sets it, just after a child
    starts, which kills as SIGKILL would) leaves through the `finally` blocks, which
    release the pool's queue lock, and through `worker_process_shutdown`: the flush.
    """
    if _prctl is None:
        return
    import signal

    handler = signal.getsignal(signal.SIGTERM)
    billiards = handler is signal.SIG_DFL or getattr(handler, "__module__", "") == "billiard.common"
    _set_death_signal(signal.SIGTERM if billiards else _celery_death_signal)


def _set_death_signal(signum: int) -> None:
    if _prctl is not None:
        try:
            _prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
        except Exception:
            pass
