"""Settings read from the environment.

riemann-auto runs inside other people's programs, so a bad value never stops
anything: it is reported in one line naming the variable and the value, and the
default is used instead. This module imports nothing heavy because it runs at
interpreter start-up.
"""

from __future__ import annotations

import os
from types import MappingProxyType

from . import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

TRANSPORTS = ("tcp", "udp", "tls", "console")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_PORT = 5555
DEFAULT_TLS_PORT = 5554

# Chosen by benchmarks/overhead.py: a batch of 256 keeps the sender well past
# 100k events/s, and 10k queued events bound memory to a few MiB.
DEFAULT_QUEUE_SIZE = 10_000
DEFAULT_BATCH_SIZE = 256
DEFAULT_FLUSH_INTERVAL = 0.2


# The health readings (health/), by the name of their threshold: RIEMANN_HEALTH_<NAME>.
HEALTH_READINGS = (
    "cpu",
    "rss",
    "gc_pause",
    "gc_collections",
    "threads",
    "fds",
    "uptime",
    "loop_lag",
    "queue",
)


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


class Settings:
    """Everything riemann-auto can be told, with the contract's defaults.

    A plain class, not a dataclass: `dataclasses` imports `inspect`, which
    alone would cost a start-up more than riemann-auto's whole budget.
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    transport: str = "tcp"
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    targets: tuple[str, ...] = ()
    tags: tuple[str, ...] = ("python",)
    service_prefix: str = ""
    event_host: str = ""  # empty: socket.gethostname(), looked up when events are built
    ttl: float | None = None
    exception_state: str = "critical"
    disabled_instrumentations: frozenset[str] = frozenset()
    flask_excluded_routes: frozenset[str] = frozenset()
    starlette_excluded_routes: frozenset[str] = frozenset()  # FastAPI's too
    django_excluded_routes: frozenset[str] = frozenset()
    enabled: bool = True
    queue_size: int = DEFAULT_QUEUE_SIZE
    batch_size: int = DEFAULT_BATCH_SIZE
    flush_interval: float = DEFAULT_FLUSH_INTERVAL
    shutdown_timeout: float = 2.0
    timeout: float = 2.0
    stats_interval: float = 10.0
    aggregate: float = 0.0  # seconds per summary; 0: an event per call
    health_interval: float = 10.0  # seconds between health reports; 0: none
    # reading: (warning, critical); read-only, as every default here is
    health_thresholds: Mapping[str, tuple[float, float]] = MappingProxyType({})
    log_level: str = "WARNING"
    problems: tuple[str, ...] = ()

    def __init__(self, **values: object) -> None:
        for name, value in values.items():
            if not hasattr(type(self), name):
                raise TypeError(f"unknown setting {name!r}")
            setattr(self, name, value)

    def replace(self, **values: object) -> Settings:
        merged = dict(vars(self))
        merged.update(values)
        return Settings(**merged)

    @property
    def address(self) -> str:
        if self.transport == "console":
            return "console (stderr)"
        return f"{self.transport}://{self.host}:{self.port}"

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, str] | None = None,
        report: Callable[[str], None] | None = None,
    ) -> Settings:
        """Read the RIEMANN_* variables; every unusable value is reported once."""
        env = os.environ if environ is None else environ
        problems: list[str] = []

        def bad(name: str, value: str, why: str, default: object) -> None:
            problems.append(f"{name}={value!r} {why}; using {default!r}")

        def text(name: str, default: str) -> str:
            return env.get(name, "").strip() or default

        def number(name: str, default, kind, low, high):
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = kind(raw)
            except ValueError:
                bad(name, raw, f"is not a {kind.__name__} number", default)
                return default
            if not low <= value <= high:
                bad(name, raw, f"is out of range ({low} to {high})", default)
                return default
            return value

        def thresholds() -> dict[str, tuple[float, float]]:
            found = {}
            for reading in HEALTH_READINGS:
                name = f"RIEMANN_HEALTH_{reading.upper()}"
                raw = env.get(name, "").strip()
                if not raw:
                    continue
                try:
                    warning, critical = (float(part) for part in raw.split(","))
                except ValueError:
                    bad(name, raw, "is not two numbers, warning,critical", None)
                    continue
                if not warning <= critical:
                    bad(name, raw, "has its warning above its critical", None)
                    continue
                found[reading] = (warning, critical)
            return found

        def choice(name: str, default: str, allowed: tuple[str, ...], fold=str.lower) -> str:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            if fold(raw) not in allowed:
                bad(name, raw, f"is not one of {', '.join(allowed)}", default)
                return default
            return fold(raw)

        transport = choice("RIEMANN_TRANSPORT", "tcp", TRANSPORTS)
        default_port = DEFAULT_TLS_PORT if transport == "tls" else DEFAULT_PORT
        enabled_raw = env.get("RIEMANN_AUTO_ENABLED", "").strip().lower()
        if enabled_raw and enabled_raw not in (
            "true",
            "1",
            "yes",
            "on",
            "false",
            "0",
            "no",
            "off",
        ):
            bad("RIEMANN_AUTO_ENABLED", enabled_raw, "is not true or false", True)
        ttl = number("RIEMANN_TTL", None, float, 0.0, 1e9)
        tls_files = {}
        for name in (
            "RIEMANN_TLS_CA_FILE",
            "RIEMANN_TLS_CERT_FILE",
            "RIEMANN_TLS_KEY_FILE",
        ):
            path = env.get(name, "").strip() or None
            if path is not None and not os.path.isfile(path):
                bad(name, path, "is not a readable file", None)
                path = None
            tls_files[name] = path
        if (tls_files["RIEMANN_TLS_CERT_FILE"] is None) != (
            tls_files["RIEMANN_TLS_KEY_FILE"] is None
        ):
            problems.append(
                "RIEMANN_TLS_CERT_FILE and RIEMANN_TLS_KEY_FILE go together; "
                "connecting without a client certificate"
            )
            tls_files["RIEMANN_TLS_CERT_FILE"] = tls_files["RIEMANN_TLS_KEY_FILE"] = None

        settings = cls(
            host=text("RIEMANN_HOST", "127.0.0.1"),
            port=number("RIEMANN_PORT", default_port, int, 1, 65535),
            transport=transport,
            tls_ca_file=tls_files["RIEMANN_TLS_CA_FILE"],
            tls_cert_file=tls_files["RIEMANN_TLS_CERT_FILE"],
            tls_key_file=tls_files["RIEMANN_TLS_KEY_FILE"],
            targets=_split(env.get("RIEMANN_TARGETS", "")),
            tags=_split(env["RIEMANN_TAGS"]) if "RIEMANN_TAGS" in env else ("python",),
            service_prefix=env.get("RIEMANN_SERVICE_PREFIX", ""),
            event_host=text("RIEMANN_EVENT_HOST", ""),
            ttl=ttl,
            exception_state=text("RIEMANN_EXCEPTION_STATE", "critical"),
            disabled_instrumentations=frozenset(
                name.lower() for name in _split(env.get("RIEMANN_DISABLED_INSTRUMENTATIONS", ""))
            ),
            flask_excluded_routes=frozenset(_split(env.get("RIEMANN_FLASK_EXCLUDED_ROUTES", ""))),
            starlette_excluded_routes=frozenset(
                _split(env.get("RIEMANN_STARLETTE_EXCLUDED_ROUTES", ""))
            ),
            django_excluded_routes=frozenset(_split(env.get("RIEMANN_DJANGO_EXCLUDED_ROUTES", ""))),
            enabled=enabled_raw not in ("false", "0", "no", "off"),
            queue_size=number("RIEMANN_QUEUE_SIZE", DEFAULT_QUEUE_SIZE, int, 1, 10_000_000),
            batch_size=number("RIEMANN_BATCH_SIZE", DEFAULT_BATCH_SIZE, int, 1, 10_000),
            flush_interval=number(
                "RIEMANN_FLUSH_INTERVAL", DEFAULT_FLUSH_INTERVAL, float, 0.001, 60.0
            ),
            timeout=number("RIEMANN_TIMEOUT", 2.0, float, 0.01, 600.0),
            shutdown_timeout=number("RIEMANN_SHUTDOWN_TIMEOUT", 2.0, float, 0.0, 60.0),
            stats_interval=number("RIEMANN_STATS_INTERVAL", 10.0, float, 0.01, 86400.0),
            aggregate=number("RIEMANN_AGGREGATE", 0.0, float, 0.0, 86400.0),
            health_interval=number("RIEMANN_HEALTH_INTERVAL", 10.0, float, 0.0, 86400.0),
            health_thresholds=thresholds(),
            log_level=choice("RIEMANN_LOG_LEVEL", "WARNING", LOG_LEVELS, fold=str.upper),
            problems=tuple(problems),
        )
        if report is None and log.LEVELS[settings.log_level] <= log.LEVELS["WARNING"]:
            report = log.warn
        for problem in problems if report else ():
            report(problem)
        return settings


_in_effect: Settings | None = None


def in_effect() -> Settings:
    """This process's settings, read (and their problems reported) once."""
    global _in_effect
    if _in_effect is None:
        _in_effect = Settings.from_environ()
        log.set_level(_in_effect.log_level)
    return _in_effect
