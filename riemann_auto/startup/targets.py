"""RIEMANN_TARGETS: `module:qualname[=name]` functions to time.

A target is patched by a post-import hook the moment its module has been
imported, so even `from module import func` in the program gets the timed
function. Nothing is imported on the program's behalf.
"""

from __future__ import annotations

import os
import sys
from types import BuiltinFunctionType, FunctionType

from .. import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

    from ..runtime import Runtime


# Modules riemann-auto itself runs on, from the call that records to the
# socket that sends: timing one of their functions would have riemann-auto
# time itself, recursing (builtins:len) or deadlocking (threading:Thread.start).
RUNS_ON = frozenset(
    (
        "_thread", "_weakrefset", "abc", "atexit", "builtins", "codecs", "collections",
        "contextlib", "encodings", "enum", "errno", "functools", "importlib", "importlib_metadata",
        "io", "itertools", "json", "logging", "math", "operator", "os", "posix", "posixpath",
        "queue", "riemann_auto", "select", "selectors", "signal", "socket", "ssl", "struct",
        "sys", "threading", "time", "types", "warnings", "weakref", "wrapt",
    )
)  # fmt: skip
RUNS_ON_WHY = "a module riemann-auto runs on: timing it would have riemann-auto time itself"
_HEAP_TYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement


class Target:
    """One parsed entry: `module`, the attribute `path`, an optional event `name`."""

    __slots__ = ("entry", "module", "path", "name")

    def __init__(self, entry: str, module: str, path: tuple[str, ...], name: str | None) -> None:
        self.entry, self.module, self.path, self.name = entry, module, path, name

    @property
    def qualname(self) -> str:
        return ".".join(self.path)


def _dotted(text: str, allow_star: bool = False) -> bool:
    parts = text.split(".")
    return all(
        part.isidentifier() or (allow_star and part == "*" and i == len(parts) - 1 and i > 0)
        for i, part in enumerate(parts)
    )


def parse(entry: str) -> Target:
    """Raises ValueError saying what is wrong with the entry."""
    spec, _, name = entry.partition("=")
    module, colon, qualname = spec.strip().partition(":")
    if not colon or not module or not qualname:
        raise ValueError("it is not of the form module:qualname[=name]")
    if not _dotted(module):
        raise ValueError(f"{module!r} is not a module name")
    if not _dotted(qualname, allow_star=True):
        raise ValueError(f"{qualname!r} is not a qualified name (Class.method, Class.*)")
    if module == "__main__":
        raise ValueError(
            "__main__ cannot be a target: it runs as a script before it could be "
            "patched; move the function into a module"
        )
    if _refused_module(module) is not None:
        raise ValueError(f"{module} is {RUNS_ON_WHY}")
    name = name.strip()
    if "=" in entry and not name:
        raise ValueError("the name after '=' is empty")
    return Target(entry, module, tuple(qualname.split(".")), name or None)


def parse_all(entries: tuple[str, ...], report: Callable[[str], None] = log.warn) -> list[Target]:
    targets = []
    for entry in entries:
        try:
            targets.append(parse(entry))
        except ValueError as exc:
            report(f"RIEMANN_TARGETS entry {entry!r} skipped: {exc}")
    return targets


def _function(value: object) -> object:
    """The function a raw attribute holds: a staticmethod's or classmethod's own."""
    return value.__func__ if isinstance(value, (staticmethod, classmethod)) else value


def _is_function(value: object) -> bool:
    return isinstance(_function(value), (FunctionType, BuiltinFunctionType))


def _not_a_function(value: object) -> str:
    kind = type(value)
    if any(k.__module__.partition(".")[0] == "celery" for k in kind.__mro__):
        # a task (or the proxy @app.task returns before the app is finalized)
        return (
            "is a Celery task, not a function: every task is timed already, by its task "
            "name, where it runs (instrumentation celery); to time a function it calls, "
            "name that function"
        )
    what = "a class" if isinstance(value, type) else f"a {kind.__module__}.{kind.__qualname__}"
    return f"is {what}, not a function or method"


def _refused_module(name: str) -> str | None:
    """The module riemann-auto runs on that `name` is, or is part of."""
    top = name.partition(".")[0]
    if top in RUNS_ON or name in RUNS_ON:
        return top if top in RUNS_ON else name
    return None


def resolve(module: ModuleType, target: Target) -> list[tuple[object, str, object, str]]:
    """(owner, attribute, raw value, qualname) for every function the target names.

    Raises LookupError saying what is missing or why it is refused.
    """
    owner: object = module
    for depth, part in enumerate(target.path[:-1]):
        if not hasattr(owner, part):
            missing = ".".join(target.path[: depth + 1])
            raise LookupError(f"module {target.module} has no attribute {missing!r}")
        owner = getattr(owner, part)
    last = target.path[-1]
    prefix = ".".join(target.path[:-1])
    if last == "*":
        if not isinstance(owner, type):
            raise LookupError(f"{prefix!r} in module {target.module} is not a class")
        found = [
            (owner, attr, value, f"{prefix}.{attr}")
            for attr, value in vars(owner).items()
            if not (attr.startswith("__") and attr.endswith("__")) and _is_function(value)
        ]
        if not found:
            raise LookupError(f"class {prefix} in module {target.module} defines no methods")
    elif isinstance(owner, type):
        # The raw descriptor, so staticmethods and classmethods stay what they are.
        for klass in owner.__mro__:
            if last in vars(klass):
                found = [(owner, last, vars(klass)[last], target.qualname)]
                break
        else:
            raise LookupError(f"class {prefix} in module {target.module} has no {last!r}")
    elif hasattr(owner, last):
        found = [(owner, last, getattr(owner, last), target.qualname)]
    else:
        raise LookupError(f"module {target.module} has no attribute {target.qualname!r}")
    if isinstance(owner, type) and not owner.__flags__ & _HEAP_TYPE:
        raise LookupError(f"{prefix} is a built-in type, whose methods cannot be timed")
    for _, _, value, qualname in found:
        if not _is_function(value):
            raise LookupError(f"{qualname!r} in module {target.module} {_not_a_function(value)}")
        home = _refused_module(str(getattr(_function(value), "__module__", None) or ""))
        if home is not None:
            raise LookupError(f"{qualname!r} is {home}'s, {RUNS_ON_WHY}")
    return found


def patch(module: ModuleType, target: Target, runtime: Runtime) -> int:
    """Time what the target names; returns how many functions it newly timed."""
    from ..timing import code_attributes, is_timed, time_attribute

    timed = 0
    for owner, attr, value, qualname in resolve(module, target):
        if is_timed(value):
            continue
        if target.name is None:
            name = f"{target.module}.{qualname}"
        elif target.path[-1] == "*":
            name = f"{target.name}.{attr}"
        else:
            name = target.name
        how = time_attribute(owner, attr, value, runtime.probe(name, code_attributes(value)))
        log.debug(f"{target.module}:{qualname} timed {how}")
        timed += 1
    return timed


def install(targets: list[Target], runtime: Callable[[], Runtime], watcher) -> None:
    """Patch each target when its module is imported; say so when it cannot be.

    A module is never imported here: that would run the program's code early.
    Whether each module can be found is asked once the program runs: at its
    first import from outside the standard library (by then a script's folder,
    and what the program put on sys.path before, are there), or at exit if it
    made none. `riemann-run --check` imports every target's module.
    """
    for target in targets:

        def hook(module: ModuleType, target: Target = target) -> None:
            try:
                patch(module, target, runtime())
            except LookupError as exc:
                log.warn(f"RIEMANN_TARGETS entry {target.entry!r} skipped: {exc}")

        watcher.when_imported(target.module, hook)
    if targets:
        import atexit

        check = _MissingModules(targets)
        watcher.on_first_foreign_import(check)
        atexit.register(check)


class _MissingModules:
    """Says, once, which targets' modules the program could never import."""

    def __init__(self, targets: list[Target]) -> None:
        self.targets: list[Target] | None = targets

    def __call__(self) -> None:
        targets, self.targets = self.targets, None
        for target in targets or ():
            if not findable(target.module):
                log.warn(
                    f"RIEMANN_TARGETS entry {target.entry!r} will never be timed: no module "
                    f"{target.module} on this program's path ({_shown_path()})"
                )


def findable(name: str) -> bool:
    """Whether `import name` could succeed, found without importing anything.

    Packages already imported are asked through their `__path__`; the others
    through the finders on sys.meta_path, with the current folder added to
    sys.path as servers (gunicorn, uvicorn, celery, flask run) add it later.
    """
    import importlib.machinery

    finders = [f for f in sys.meta_path if hasattr(f, "find_spec") and not _is_watcher(f)]
    parts = name.split(".")
    path: list[str] | None = None
    for depth in range(len(parts)):
        fullname = ".".join(parts[: depth + 1])
        module = sys.modules.get(fullname)
        if module is not None:
            path = getattr(module, "__path__", None)
        else:
            for finder in finders:
                search = path
                if path is None and finder is importlib.machinery.PathFinder:
                    search = [*sys.path, os.getcwd()]
                try:
                    spec = finder.find_spec(fullname, search)
                except Exception:
                    spec = None
                if spec is not None:
                    break
            else:
                return False
            path = spec.submodule_search_locations
        if path is None and depth < len(parts) - 1:
            return False
    return True


def _is_watcher(finder: object) -> bool:
    from .importhooks import ImportWatcher

    return isinstance(finder, ImportWatcher)


def _shown_path() -> str:
    shown = [p or "." for p in sys.path[:4]]
    return "sys.path " + ", ".join(shown) + (", ..." if len(sys.path) > 4 else "")
