"""riemann-auto's start-up hook, put first on PYTHONPATH by riemann-run.

It starts riemann-auto, then runs the next `sitecustomize` on sys.path (the
application's own, or the system Python's) exactly as if this one were not
there. It never writes to stdout and never stops the program.
"""

import os
import sys


def _start_riemann_auto():
    try:
        from riemann_auto.startup.bootstrap import bootstrap
    except ImportError as exc:
        sys.stderr.write(
            f"riemann-auto: riemann_auto is not installed for {sys.executable} ({exc}); "
            "install it there (pip install riemann-auto) or run the program with the "
            "Python riemann-run came with. The program runs uninstrumented.\n"
        )
        return
    bootstrap()


def _run_next_sitecustomize():
    import importlib.machinery

    # Every riemann-auto hook folder is skipped, not only this one: another install's
    # (riemann-run of one environment running another's Python) would run this again.
    hooks = os.path.basename(os.path.dirname(os.path.abspath(__file__)))  # their name
    rest = [p for p in sys.path if os.path.basename(os.path.abspath(p or os.curdir)) != hooks]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    import importlib.util

    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


_start_riemann_auto()
_run_next_sitecustomize()
