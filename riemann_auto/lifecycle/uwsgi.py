"""uWSGI: it forks its workers, and ends them, behind Python's back.

uWSGI forks its workers with the C library's `fork`, not `os.fork`, so
`os.register_at_fork` never runs in them; and it forks while any other
Python thread of the master may hold the GIL, which no worker could then
ever take (the worker hangs). So in uWSGI's master, before its workers
exist (an app loaded without --lazy-apps whose import calls a target:
warm-up code), riemann-auto starts no thread: the events wait in the queue.
After uWSGI's fork (`uwsgi.post_fork_hook`, chained with any hook the
program sets, before or after) every worker starts over with a fresh
sender, as after `os.fork`, and the first generation of worker 1 delivers
what the master queued, so those events arrive once.

uWSGI older than 2.0.30 runs without Python threads unless started with
--enable-threads (or --threads): the sender's thread then runs only while a
request runs, and at the worker's exit. riemann-auto says so in one line.

A uWSGI worker ended by SIGINT or SIGTERM (`--die-on-term`: the master's
SIGTERM sends SIGINT to every worker) leaves through `exit()` from uWSGI's
C signal handler, and uWSGI runs Python's atexit (its `Py_Finalize`) only if
the worker is not busy: a worker still closing the request it has just
answered (its client already has the whole response) leaves without it, and
so without our exit flush. So each worker also registers the exit flush with
the C library, on its main thread (the one uWSGI's handler runs on), to run
at the very start of `exit()`, before any `atexit` function, uWSGI's
`Py_Finalize` included; it flushes only if no Python code was running on that
thread, which is when uWSGI itself would have run Python's atexit had the
worker not been busy: a worker stopped in the middle of a request's Python
code leaves as uWSGI decides, without.

Nothing here imports uwsgi: it asks `sys.modules` for it.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

from .. import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

_prepared = False
# The C callables exit() will call, kept alive: a process forked from a worker
# inherits its parent's destructors along with its own.
_exit_hooks: list = []
_exit_hook_pid = 0


def embedded() -> ModuleType | None:
    """uWSGI's embedded module, when this process runs inside uWSGI."""
    module = sys.modules.get("uwsgi")
    if module is None or not hasattr(module, "worker_id") or not hasattr(module, "opt"):
        return None
    return module


def in_master() -> bool:
    """In uWSGI, but in none of its workers, mules or spoolers: it forks them from here."""
    module = embedded()
    if module is None:
        return False
    try:
        if module.worker_id() != 0:
            return False
        mule_id = getattr(module, "mule_id", None)
        if mule_id is not None and mule_id() != 0:
            return False
        spooler = getattr(module, "i_am_the_spooler", None)
        return not (spooler is not None and spooler())
    except Exception:
        return False


def first_worker_first_spawn() -> bool:
    """Worker 1 as uWSGI first spawned it (not a respawn, a mule or a spooler)."""
    module = embedded()
    try:
        if module is None or module.worker_id() != 1:
            return False
        me = [w for w in module.workers() if w.get("id") == 1]
        return bool(me) and me[0].get("respawn_count", 1) == 0
    except Exception:
        return False


class _HookChain:
    """uwsgi.post_fork_hook: ours, then the program's (which may be set later)."""

    def __init__(self, ours: Callable[[], None], theirs: object) -> None:
        self.ours, self.theirs = ours, theirs

    def __call__(self) -> None:
        try:
            self.ours()
        except Exception as exc:
            log.debug(f"after uWSGI's fork: {exc!r}")
        if callable(self.theirs):
            self.theirs()


class _UwsgiModule(ModuleType):
    """uwsgi's module, whose `post_fork_hook`, when the program sets it, keeps ours first.

    uWSGI reads the hook from the module's dict, so the chain is stored there.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name == "post_fork_hook":
            current = self.__dict__.get("post_fork_hook")
            if isinstance(current, _HookChain) and not isinstance(value, _HookChain):
                value = _HookChain(current.ours, value)
        super().__setattr__(name, value)


def prepare(after_fork: Callable[[], None]) -> None:
    """Once per process inside uWSGI: our post-fork hook, and the threads line."""
    global _prepared
    module = embedded()
    if module is None or _prepared:
        return
    _prepared = True
    try:  # imported here, before uWSGI forks: a worker's post-fork hook only looks it up
        import ctypes  # noqa: F401
    except Exception:
        pass
    try:
        current = getattr(module, "post_fork_hook", None)
        if not isinstance(current, _HookChain):
            module.post_fork_hook = _HookChain(after_fork, current)
        if type(module) is ModuleType:
            module.__class__ = _UwsgiModule
    except Exception as exc:
        log.debug(f"could not set uWSGI's post_fork_hook: {exc!r}")
    if getattr(module, "has_threads", 1) == 0:
        log.warn(
            "uWSGI runs without Python threads: events are sent only while a request runs "
            "and when the worker exits; add --enable-threads to send them as they come"
        )


def on_worker_exit(run_exit: Callable[[], None]) -> None:
    """In a uWSGI worker, on its main thread: `run_exit` first thing in C's `exit()`.

    A thread-local destructor of the main thread (glibc's
    `__cxa_thread_atexit_impl`) runs before every `atexit` function, so before
    uWSGI's `Py_Finalize` in whatever order they were registered (with
    --lazy-apps the app, and our first event, comes before uWSGI registers its
    own). Elsewhere (no glibc, another thread, the master, a mule) nothing is
    registered: Python's atexit, when uWSGI runs it, still flushes.
    """
    global _exit_hook_pid
    module = embedded()
    if module is None or _exit_hook_pid == os.getpid():
        return
    from . import on_main_thread

    if not on_main_thread():
        return
    try:
        if module.worker_id() <= 0:
            return
        import ctypes

        register = ctypes.CDLL(None).__cxa_thread_atexit_impl
    except Exception:
        return

    # pyuwsgi runs the whole of uWSGI inside one call from its launcher's frame:
    # that frame is the only one below a worker's C code between requests.
    launcher = sys._getframe()
    while launcher.f_back is not None:
        launcher = launcher.f_back

    def at_exit(_: object) -> None:
        # Python code under way on this thread (a request uWSGI interrupted): the
        # interpreter may be anywhere inside it, so nothing more runs, as uWSGI
        # decides for its own Py_Finalize.
        try:
            if sys._getframe(1) is not launcher:
                return
        except ValueError:  # no frame at all: uWSGI's C code was running
            pass
        try:
            run_exit()
        except BaseException:  # nothing may escape into C
            pass

    hook = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(at_exit)
    _exit_hooks.append(hook)  # before it can run
    try:
        # the third argument names the object the destructor belongs to (glibc keeps that
        # object loaded while it is pending); the callable's own address, unknown to the
        # dynamic loader, stands for the main program
        if register(hook, None, ctypes.cast(hook, ctypes.c_void_p)) != 0:
            return
    except Exception:
        return
    _exit_hook_pid = os.getpid()
