"""Instrumentors: one per library, found through entry points.

A package adds one by declaring, in the `riemann_auto.instrumentors` entry
point group, a class like the built-in ones (flask.py is the model): its
module must not import the library. riemann-auto loads the class, waits for
the library's module to be imported (its own instrumentors it loads only
then: `BUILT_IN_TRIGGERS`), then calls `instrument`, which checks
the installed version against `supported` before any of the subclass's code
runs. The subclass's `_instrument` lists what it replaces, each through
`_patch`; `uninstrument` puts it all back.
"""

from __future__ import annotations

from types import FunctionType

from .. import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..runtime import Runtime
    from ..startup.importhooks import ImportWatcher

ENTRY_POINT_GROUP = "riemann_auto.instrumentors"

_MISSING = object()

# The replacements in place, by id, whoever made them: an attribute holding one
# is not patched again (two instances of an instrumentor, a plugin loaded twice).
# By id, not by a marker attribute or a set: a wrapt proxy forwards attributes,
# equality and hashing to the function it wraps.
_replacements: dict[int, object] = {}


class Instrumentor:
    """Base class, in the manner of OpenTelemetry's BaseInstrumentor.

    `instrument` and `uninstrument` do the bookkeeping every library needs:
    once only, the version check, failures contained in one line, and the
    undoing of every `_patch`. A subclass writes only `_instrument`.
    """

    #: what RIEMANN_DISABLED_INSTRUMENTATIONS calls it (the entry point's name too)
    name: str = ""
    #: other names that disable it (Starlette's instrumentor serves FastAPI too)
    aliases: frozenset[str] = frozenset()
    #: the module whose import triggers `instrument`
    module: str = ""
    #: the distribution whose version is checked; none for the standard library's
    distribution: str = ""
    #: supported versions: at least the first, below the second
    supported: tuple[tuple[int, ...], tuple[int, ...]] = ((0,), (10**6,))

    _instrumented = False

    def instrument(self, runtime: Runtime) -> bool:
        """Patch the library, once; False, said in one line, when it cannot be."""
        if self._instrumented:
            return True
        self._undo: list[Callable[[], None]] = []
        reason = unsupported_reason(self)
        if reason is None:
            try:
                self._instrument(runtime)
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                self._undo_all()
        if reason is not None:
            log.warn(f"{self.name} left uninstrumented: {reason}")
            return False
        self._instrumented = True
        if self._undo:
            log.debug(f"{self.name} instrumented")
        return True

    def uninstrument(self) -> None:
        """Undo `instrument`: every replaced attribute back, last patched first."""
        if self._instrumented:
            self._undo_all()
            self._instrumented = False

    def names(self) -> frozenset[str]:
        """Every name RIEMANN_DISABLED_INSTRUMENTATIONS may give it, lower case."""
        return frozenset(name.lower() for name in (self.name, *self.aliases))

    def _instrument(self, runtime: Runtime) -> None:
        raise NotImplementedError

    def _patch(self, owner: object, attribute: str, replacement: object) -> object:
        """Put `replacement` at `owner.attribute`; returns what was there.

        What was there is its own (`vars(owner)`): an inherited attribute is
        shadowed, and uncovered again by `uninstrument`. An attribute that
        already holds a replacement of riemann-auto's is left as it is, and
        that replacement returned.
        """
        current = vars(owner).get(attribute, _MISSING)
        if _replacements.get(id(current)) is current:
            return current
        original = current if current is not _MISSING else getattr(owner, attribute, None)
        setattr(owner, attribute, replacement)
        _replacements[id(replacement)] = replacement

        def undo() -> None:
            _replacements.pop(id(replacement), None)
            if current is _MISSING:
                delattr(owner, attribute)
            else:
                setattr(owner, attribute, current)

        self._undo.append(undo)
        return original

    def _on_uninstrument(self, undo: Callable[[], None]) -> None:
        """Have `uninstrument` also call `undo` (for what is not an attribute)."""
        self._undo.append(undo)

    def _undo_all(self) -> None:
        while self._undo:
            self._undo.pop()()


def as_function(method: object) -> Callable:
    """`method`, a class attribute, callable as `method(instance, *args)`.

    A replacement calls what it replaced that way. A plain function is
    that already; anything else (another tool's wrapt wrapper, a
    functools.partialmethod) is bound first, as reading it from the
    instance would have done.
    """
    if type(method) is FunctionType:  # not isinstance: a wrapt proxy passes that
        return method

    def call(instance, *args, **kwargs):
        return method.__get__(instance, type(instance))(*args, **kwargs)

    return call


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
    if not instrumentor.distribution:  # the standard library's: it comes with Python
        return None
    from .installed import version

    installed = version(instrumentor.distribution)
    if installed is None:
        return f"distribution {instrumentor.distribution!r} is not installed"
    low, high = instrumentor.supported
    if not low <= version_tuple(installed) < high:
        wanted = f">={'.'.join(map(str, low))},<{'.'.join(map(str, high))}"
        return f"{instrumentor.distribution} {installed} is not supported ({wanted})"
    return None


# The module whose import triggers each of riemann-auto's own instrumentors, by entry
# point: the instrumentor's file is imported only then, not at start-up (a dozen of
# them cost a program ~5 ms to import). Their classes' `module` says the same (a test
# checks); a plugin's class is loaded at once, to read its `module`.
BUILT_IN_TRIGGERS = {
    "riemann_auto.instrumentation.flask:FlaskInstrumentor": "flask",
    "riemann_auto.instrumentation.django:DjangoInstrumentor": "django.core.handlers.base",
    "riemann_auto.instrumentation.celery:CeleryInstrumentor": "celery",
    "riemann_auto.instrumentation.starlette:StarletteInstrumentor": "starlette.routing",
    "riemann_auto.instrumentation.sqlite:SqliteInstrumentor": "sqlite3",
    "riemann_auto.instrumentation.postgresql:Psycopg2Instrumentor": "psycopg2",
    "riemann_auto.instrumentation.postgresql:PsycopgInstrumentor": "psycopg",
    "riemann_auto.instrumentation.postgresql_asyncpg:AsyncpgInstrumentor": "asyncpg",
    "riemann_auto.instrumentation.redis:RedisInstrumentor": "redis",
    "riemann_auto.instrumentation.http_urllib3:Urllib3Instrumentor": "urllib3",
    "riemann_auto.instrumentation.http_urllib:UrllibInstrumentor": "urllib.request",
    "riemann_auto.instrumentation.http_httpx:HttpxInstrumentor": "httpx",
    "riemann_auto.instrumentation.http_aiohttp:AiohttpInstrumentor": "aiohttp",
}


def load(entry_point, disabled: frozenset[str]) -> Instrumentor | None:
    """The entry point's instrumentor, unless it fails to load (said in one line) or
    RIEMANN_DISABLED_INSTRUMENTATIONS names it."""
    try:
        instrumentor = entry_point.load()()
    except Exception as exc:
        log.warn(f"instrumentor {entry_point.name!r} ({entry_point.value}) failed to load: {exc!r}")
        return None
    if not instrumentor.name:
        instrumentor.name = entry_point.name
    return None if instrumentor.names() & disabled else instrumentor


def install(
    watcher: ImportWatcher, runtime: Callable[[], Runtime], disabled: frozenset[str]
) -> None:
    """Activate each installed instrumentor that RIEMANN_DISABLED_INSTRUMENTATIONS leaves
    on when its library is imported."""
    from .installed import entry_points

    def when_imported(instrumentor: Instrumentor | None) -> None:
        if instrumentor is not None:
            watcher.when_imported(instrumentor.module, lambda _: instrumentor.instrument(runtime()))

    def load_and_instrument(entry_point) -> None:  # its module was just imported
        instrumentor = load(entry_point, disabled)
        if instrumentor is not None:
            instrumentor.instrument(runtime())

    for entry_point in entry_points(ENTRY_POINT_GROUP):
        if entry_point.name.lower() in disabled:
            continue
        trigger = BUILT_IN_TRIGGERS.get(entry_point.value)
        if trigger is None:
            when_imported(load(entry_point, disabled))
        else:
            watcher.when_imported(trigger, lambda _, point=entry_point: load_and_instrument(point))
