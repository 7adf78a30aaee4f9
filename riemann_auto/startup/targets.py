"""RIEMANN_TARGETS: `module:qualname[=name]` functions to time.

A target is patched by a post-import hook the moment its module has been
imported, so even `from module import func` in the program gets the timed
function. Nothing is imported on the program's behalf.
"""

from __future__ import annotations

from .. import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

    from ..runtime import Runtime


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


def _is_function_like(value: object) -> bool:
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    return callable(value) and not isinstance(value, type)


def resolve(module: ModuleType, target: Target) -> list[tuple[object, str, object, str]]:
    """(owner, attribute, raw value, qualname) for every function the target names.

    Raises LookupError saying what is missing.
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
            if not (attr.startswith("__") and attr.endswith("__")) and _is_function_like(value)
        ]
        if not found:
            raise LookupError(f"class {prefix} in module {target.module} defines no methods")
        return found
    if isinstance(owner, type):
        # The raw descriptor, so staticmethods and classmethods stay what they are.
        for klass in owner.__mro__:
            if last in vars(klass):
                value = vars(klass)[last]
                break
        else:
            raise LookupError(f"class {prefix} in module {target.module} has no {last!r}")
    elif hasattr(owner, last):
        value = getattr(owner, last)
    else:
        raise LookupError(f"module {target.module} has no attribute {target.qualname!r}")
    if not _is_function_like(value):
        raise LookupError(f"{target.qualname!r} in module {target.module} is not a function")
    return [(owner, last, value, target.qualname)]


def patch(module: ModuleType, target: Target, runtime: Runtime) -> int:
    """Time what the target names; returns how many functions were wrapped."""
    from ..timing import code_attributes, is_timed, timed

    wrapped = 0
    for owner, attr, value, qualname in resolve(module, target):
        if is_timed(value):
            continue
        if target.name is None:
            name = f"{target.module}.{qualname}"
        elif target.path[-1] == "*":
            name = f"{target.name}.{attr}"
        else:
            name = target.name
        setattr(owner, attr, timed(value, runtime.probe(name, code_attributes(value))))
        wrapped += 1
    return wrapped


def install(targets: list[Target], runtime: Callable[[], Runtime], watcher) -> None:
    """Patch each target when its module is imported; say so when it cannot be.

    A module is never imported or even looked for here: at start-up the
    script's own folder is not on sys.path yet, and importing would run the
    program's code early. `riemann-run --check` imports every target's module.
    """
    for target in targets:

        def hook(module: ModuleType, target: Target = target) -> None:
            try:
                patch(module, target, runtime())
            except LookupError as exc:
                log.warn(f"RIEMANN_TARGETS entry {target.entry!r} skipped: {exc}")

        watcher.when_imported(target.module, hook)
