"""Instrumentors: one per library, found through entry points.

A package adds one by declaring, in the `riemann_auto.instrumentors` entry
point group, a class like `Instrumentor` below. riemann-auto loads the class
(its module must not import the library), waits for the library's module to
be imported, then calls `instrument`, which checks the installed version
against `supported` before patching anything.
"""

from __future__ import annotations

from .. import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..runtime import Runtime
    from ..startup.importhooks import ImportWatcher

ENTRY_POINT_GROUP = "riemann_auto.instrumentors"


class Instrumentor:
    """Base class, in the manner of OpenTelemetry's BaseInstrumentor.

    `instrument` and `uninstrument` do the bookkeeping every library needs
    (once only, version check, failures contained in one line); a subclass
    writes only `_instrument` and `_uninstrument`, each the other's inverse.
    """

    #: what RIEMANN_DISABLED_INSTRUMENTATIONS calls it (the entry point's name too)
    name: str = ""
    #: the module whose import triggers `instrument`
    module: str = ""
    #: the distribution whose version is checked
    distribution: str = ""
    #: supported versions: at least the first, below the second
    supported: tuple[tuple[int, ...], tuple[int, ...]] = ((0,), (10**6,))

    _instrumented = False

    def instrument(self, runtime: Runtime) -> bool:
        """Patch the library, once; False, said in one line, when it cannot be."""
        if self._instrumented:
            return True
        reason = unsupported_reason(self)
        if reason is None:
            try:
                self._instrument(runtime)
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
        if reason is not None:
            log.warn(f"{self.name} left uninstrumented: {reason}")
            return False
        self._instrumented = True
        log.debug(f"{self.name} instrumented")
        return True

    def uninstrument(self) -> None:
        """Undo `instrument`; nothing if it did not run."""
        if self._instrumented:
            self._uninstrument()
            self._instrumented = False

    def _instrument(self, runtime: Runtime) -> None:
        raise NotImplementedError

    def _uninstrument(self) -> None:
        raise NotImplementedError


def version_tuple(version: str) -> tuple[int, ...]:
    """The leading release numbers of a version string: '3.1.0rc1' -> (3, 1, 0)."""
    numbers = []
    for part in version.split("."):
        digits = ""
        for char in part:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        numbers.append(int(digits))
        if len(digits) != len(part):
            break
    return tuple(numbers)


def unsupported_reason(instrumentor: Instrumentor) -> str | None:
    """Why the installed library cannot be instrumented, or None if it can."""
    import importlib_metadata

    try:
        installed = importlib_metadata.version(instrumentor.distribution)
    except importlib_metadata.PackageNotFoundError:
        return f"distribution {instrumentor.distribution!r} is not installed"
    low, high = instrumentor.supported
    if not low <= version_tuple(installed) < high:
        wanted = f">={'.'.join(map(str, low))},<{'.'.join(map(str, high))}"
        return f"{instrumentor.distribution} {installed} is not supported ({wanted})"
    return None


def discover(disabled: frozenset[str]) -> list[Instrumentor]:
    """Every installed instrumentor that RIEMANN_DISABLED_INSTRUMENTATIONS leaves on."""
    import importlib_metadata

    found = []
    for entry_point in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name.lower() in disabled:
            continue
        try:
            instrumentor = entry_point.load()()
        except Exception as exc:
            log.warn(
                f"instrumentor {entry_point.name!r} ({entry_point.value}) failed to load: {exc!r}"
            )
            continue
        if not instrumentor.name:
            instrumentor.name = entry_point.name
        found.append(instrumentor)
    return found


def install(
    watcher: ImportWatcher, runtime: Callable[[], Runtime], disabled: frozenset[str]
) -> None:
    """Activate each discovered instrumentor when its library is imported."""
    for instrumentor in discover(disabled):
        if instrumentor.name.lower() in disabled:
            continue
        watcher.when_imported(
            instrumentor.module,
            lambda module, instrumentor=instrumentor: instrumentor.instrument(runtime()),
        )
