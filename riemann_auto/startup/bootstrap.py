"""Start-up: read the settings, then arrange for patches at import time.

Called by sitecustomize_hook (riemann-run) or by `import riemann_auto.auto`.
It imports nothing the program would not: libraries and target modules are
patched by post-import hooks when the program imports them, the sender's
thread starts with the first event, and the instrumentors' entry points are
read just before the first import from outside the standard library.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

_done = False


def hook_dir() -> str:
    """The folder holding riemann-auto's sitecustomize.py."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # riemann_auto/
    installed = os.path.join(here, "sitecustomize_hook")  # inside the wheel
    if os.path.isfile(os.path.join(installed, "sitecustomize.py")):
        return installed
    return os.path.join(os.path.dirname(here), "sitecustomize_hook")  # a source checkout


def with_hook_on_pythonpath(pythonpath: str | None) -> str:
    """PYTHONPATH with the hook folder first, keeping what was there but another
    hook folder (riemann-run of another install put it there)."""
    hook = hook_dir()
    name = os.path.basename(hook)
    # An empty entry stays: Python reads it as the current folder.
    parts = pythonpath.split(os.pathsep) if pythonpath else []
    parts = [p for p in parts if os.path.basename(os.path.normpath(p)) != name]
    return os.pathsep.join([hook, *parts])


def bootstrap(discover_now: bool = False) -> None:
    """Instrument this process; a second call does nothing. Never raises."""
    global _done
    if _done:
        return
    _done = True
    try:
        _bootstrap(discover_now)
    except Exception as exc:
        from .. import log

        log.warn(f"could not start, the program runs uninstrumented: {exc!r}")


def _bootstrap(discover_now: bool) -> None:
    from ..settings import in_effect

    settings = in_effect()
    if not settings.enabled:
        return
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        from .. import log

        # The sender's queue and the ledger's counters rely on the GIL: untested without it.
        log.warn(
            "free-threaded Python (GIL disabled) is not supported yet: the program runs "
            "uninstrumented"
        )
        return
    # Python processes the program starts get instrumented too.
    os.environ["PYTHONPATH"] = with_hook_on_pythonpath(os.environ.get("PYTHONPATH"))
    # SIGTERM flushes, whichever thread makes the first call, and a server that
    # keeps the handler it found and puts it back on its way out (uvicorn's
    # workers) finds ours: so ours goes in before the program's code runs.
    from .. import lifecycle

    lifecycle.install_sigterm_handler()

    from ..delivery import unpatched
    from .importhooks import watcher

    hooks = watcher()
    # Before the program's first third-party module runs: it may replace `socket`'s
    # functions (PySocks, test suites' network guards), which the sender must not use.
    # Now if its code runs already (`import riemann_auto.auto`) or gevent or eventlet is in.
    if discover_now or "gevent" in sys.modules or "eventlet" in sys.modules:
        unpatched.take_sockets()
    else:
        hooks.on_first_foreign_import(unpatched.take_sockets)
    if "--multiprocessing-fork" in sys.argv:
        # A spawned child that loads multiprocessing.pool (to unpickle its target)
        # is a pool worker: `terminate()` must kill it at once (see lifecycle/).
        hooks.when_imported("multiprocessing.pool", lambda _: lifecycle.leave_sigterm_default())
    if settings.targets:
        if sys.version_info < (3, 12):
            # Targets are timed through wrapt there, which imports asyncio, and so `threading`:
            # here, on the main thread, not on whichever thread first imports a target (before
            # 3.13 the thread that first imports `threading` becomes its main thread).
            import threading  # noqa: F401
        from . import targets

        targets.install(targets.parse_all(settings.targets), _runtime, hooks)

    def install_instrumentors() -> None:
        from .. import instrumentation

        instrumentation.install(hooks, _runtime, settings.disabled_instrumentations)

    if discover_now:
        install_instrumentors()
    else:
        hooks.on_first_foreign_import(install_instrumentors)
    if settings.health_interval > 0:
        hooks.when_imported("asyncio.events", _watch_loops)
        # Health reports need the runtime's thread; a program that imports nothing
        # from outside the standard library is spared both. Not in pyuwsgi before
        # uWSGI runs: a thread there when uWSGI forks its workers hangs them (see
        # lifecycle/uwsgi.py); its workers start theirs after their fork.
        if not _pyuwsgi():
            hooks.on_first_foreign_import(_runtime)


def _watch_loops(events: ModuleType) -> None:
    """Health's event loop lag needs each asyncio loop that runs (imported only then)."""
    from ..health import loops

    loops.watch_asyncio(events)


def _pyuwsgi() -> bool:
    """This process is pyuwsgi's `uwsgi` command (or `python -m pyuwsgi`), not yet uWSGI."""
    path = sys.argv[0] if sys.argv else ""
    return os.path.basename(path) in ("uwsgi", "pyuwsgi") or path.endswith("pyuwsgi/__main__.py")


def _runtime():
    """The runtime, built when the first patch needs it (not at start-up).

    Each patch also puts our SIGTERM handler in again where the default is back: a
    server's worker that reset its signals after the fork (gunicorn's uvicorn worker)
    then imports the app, and uvicorn keeps the handler it finds to put it back and
    re-raise on its way out: it must find ours, for the exit to flush.
    """
    from .. import lifecycle, runtime

    current = runtime.current()
    lifecycle.install_sigterm_handler()
    return current
