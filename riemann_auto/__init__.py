"""riemann-auto: timing and exception events for Riemann, with no code change.

The public API is `wrap_riemann` (the decorator) and `__version__`. Start
programs with `riemann-run`, or `import riemann_auto.auto` first thing.
This module stays import-light: it is loaded at every instrumented start-up.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__", "wrap_riemann"]


def __getattr__(name: str):
    if name == "wrap_riemann":
        from .decorator import wrap_riemann

        return wrap_riemann
    raise AttributeError(f"module 'riemann_auto' has no attribute {name!r}")
