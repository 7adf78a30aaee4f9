"""Post-import hooks: run a function when a named module has been imported.

The same idea as wrapt's `register_post_import_hook`, kept separate because
importing wrapt 2 costs about 70 ms (it pulls in asyncio and
importlib.metadata), more than riemann-auto's whole start-up budget. This
finder imports nothing; wrapt is loaded only once a watched module arrives.

A watched module's spec is found by the finders after this one, and its
loader is wrapped so that the hooks run right after the module's code, before
any `from module import name` in the importer sees the module.
"""

from __future__ import annotations

import sys

from .. import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType


# site.py imports usercustomize itself; it says nothing about the program. The
# standard library's modules that an instrumentor times count as foreign (a
# submodule by its full name: urllib.request, not urllib.parse).
_INSTRUMENTED_STDLIB = frozenset({"sqlite3", "urllib.request"})
_NOT_FOREIGN = (frozenset(sys.stdlib_module_names) - _INSTRUMENTED_STDLIB) | {
    "usercustomize",
    "sitecustomize",
    "riemann_auto",  # our own lazy imports are not the program's
}


class _NotifyingLoader:
    """Runs the original loader, then the module's hooks."""

    def __init__(self, loader, finder: ImportWatcher) -> None:
        self._loader = loader
        self._finder = finder

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The module's code sees its real loader (importlib.resources and
        # friends ask it for data); only this call goes through us.
        module.__loader__ = self._loader
        spec = getattr(module, "__spec__", None)
        if spec is not None:
            spec.loader = self._loader
        self._loader.exec_module(module)
        self._finder.notify(module.__name__)

    def __getattr__(self, name: str):
        return getattr(self._loader, name)


class ImportWatcher:
    """A `sys.meta_path` finder that finds nothing itself and watches imports."""

    def __init__(self) -> None:
        self._hooks: dict[str, list[Callable[[ModuleType], None]]] = {}
        self._finding: set[str] = set()
        self._first_import: list[Callable[[], None]] = []

    def when_imported(self, name: str, hook: Callable[[ModuleType], None]) -> None:
        """Call `hook(module)` once `name` is imported (now, if it already is)."""
        module = sys.modules.get(name)
        if module is not None and not _initializing(module):
            _run(hook, module)
        else:
            self._hooks.setdefault(name, []).append(hook)

    def on_first_foreign_import(self, callback: Callable[[], None]) -> None:
        """Call `callback` before the first import of a module outside the stdlib.

        Discovering instrumentors reads every installed distribution's
        metadata; deferring it to this moment keeps it off the start-up of
        programs that import nothing it could concern.
        """
        self._first_import.append(callback)

    def find_spec(self, fullname: str, path=None, target=None):
        if self._first_import and (
            fullname.partition(".")[0] not in _NOT_FOREIGN or fullname in _INSTRUMENTED_STDLIB
        ):
            callbacks, self._first_import = self._first_import, []
            for callback in callbacks:
                _run(callback)
        if fullname not in self._hooks or fullname in self._finding:
            return None
        self._finding.add(fullname)
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            self._finding.discard(fullname)
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _NotifyingLoader(spec.loader, self)
        return spec

    def notify(self, name: str) -> None:
        module = sys.modules.get(name)
        for hook in self._hooks.pop(name, ()):
            if module is not None:
                _run(hook, module)

    def invalidate_caches(self) -> None:
        pass


def _initializing(module: ModuleType) -> bool:
    spec = getattr(module, "__spec__", None)
    return bool(getattr(spec, "_initializing", False))


def _run(hook: Callable, *args: object) -> None:
    try:
        hook(*args)
    except Exception as exc:
        log.warn(f"an import hook failed, that part stays uninstrumented: {exc!r}")


_watcher: ImportWatcher | None = None


def watcher() -> ImportWatcher:
    """The process's watcher, first on `sys.meta_path`."""
    global _watcher
    if _watcher is None:
        _watcher = ImportWatcher()
        sys.meta_path.insert(0, _watcher)
    return _watcher
