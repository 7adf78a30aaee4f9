"""`riemann-run --check`: is everything set up right? Tells and exits 0 or 1."""

from __future__ import annotations

import importlib
import sys
import time

from . import __version__
from .delivery.batch import Batch
from .event import Event
from .settings import Settings
from .startup import targets

SETTINGS_SHOWN = (
    ("RIEMANN_HOST", "host"),
    ("RIEMANN_PORT", "port"),
    ("RIEMANN_TRANSPORT", "transport"),
    ("RIEMANN_TLS_CA_FILE", "tls_ca_file"),
    ("RIEMANN_TLS_CERT_FILE", "tls_cert_file"),
    ("RIEMANN_TLS_KEY_FILE", "tls_key_file"),
    ("RIEMANN_TARGETS", "targets"),
    ("RIEMANN_TAGS", "tags"),
    ("RIEMANN_SERVICE_PREFIX", "service_prefix"),
    ("RIEMANN_EVENT_HOST", "event_host"),
    ("RIEMANN_TTL", "ttl"),
    ("RIEMANN_EXCEPTION_STATE", "exception_state"),
    ("RIEMANN_DISABLED_INSTRUMENTATIONS", "disabled_instrumentations"),
    ("RIEMANN_FLASK_EXCLUDED_ROUTES", "flask_excluded_routes"),
    ("RIEMANN_STARLETTE_EXCLUDED_ROUTES", "starlette_excluded_routes"),
    ("RIEMANN_DJANGO_EXCLUDED_ROUTES", "django_excluded_routes"),
    ("RIEMANN_AUTO_ENABLED", "enabled"),
    ("RIEMANN_QUEUE_SIZE", "queue_size"),
    ("RIEMANN_BATCH_SIZE", "batch_size"),
    ("RIEMANN_FLUSH_INTERVAL", "flush_interval"),
    ("RIEMANN_TIMEOUT", "timeout"),
    ("RIEMANN_SHUTDOWN_TIMEOUT", "shutdown_timeout"),
    ("RIEMANN_STATS_INTERVAL", "stats_interval"),
    ("RIEMANN_LOG_LEVEL", "log_level"),
)


def _shown(value: object) -> str:
    if isinstance(value, (tuple, frozenset)):
        return ",".join(sorted(value) if isinstance(value, frozenset) else value) or "(none)"
    return "(unset)" if value in (None, "") else str(value)


def check(out=None) -> int:
    out = out or sys.stdout
    problems: list[str] = []
    settings = Settings.from_environ(report=problems.append)
    out.write(f"riemann-auto {__version__}, Python {sys.version.split()[0]}\n\nsettings:\n")
    for variable, attribute in SETTINGS_SHOWN:
        out.write(f"  {variable:34} {_shown(getattr(settings, attribute))}\n")
    for problem in problems:
        out.write(f"  problem: {problem}\n")

    out.write("\ntargets:\n")
    ok = _check_targets(settings, out)
    out.write(f"\nRiemann at {settings.address}:\n")
    ok = _check_riemann(settings, out) and ok
    out.write("\n" + ("all good\n" if ok else "problems found\n"))
    return 0 if ok else 1


def _check_targets(settings: Settings, out) -> bool:
    if not settings.targets:
        out.write("  (none)\n")
        return True
    sys.path.insert(0, "")  # as `python -m` would: the current folder's modules
    ok = True
    for entry in settings.targets:
        try:
            target = targets.parse(entry)
            module = importlib.import_module(target.module)
            found = targets.resolve(module, target)
        except Exception as exc:
            ok = False
            out.write(f"  FAIL {entry}: {type(exc).__name__}: {exc}\n")
            continue
        names = ", ".join(qualname for _, _, _, qualname in found)
        out.write(f"  ok   {entry}: {names}\n")
    return ok


def _check_riemann(settings: Settings, out) -> bool:
    from .delivery.transports import from_settings, reason
    from .probe import EventDefaults

    defaults = EventDefaults(settings)
    event = Event(
        service=f"{defaults.prefix}riemann-auto check",
        metric=1,
        time_micros=time.time_ns() // 1000,
        state="ok",
        description="riemann-run --check",
        tags=(*defaults.tags, "riemann-auto"),
        host=defaults.host,
        ttl=defaults.ttl,
    )
    try:
        transport = from_settings(settings)
        started = time.perf_counter()
        transport.send(Batch([event]))
        elapsed = (time.perf_counter() - started) * 1000
        transport.close()
    except Exception as exc:
        out.write(f"  FAIL test event not delivered: {reason(exc)}\n")
        return False
    if settings.transport == "udp":
        out.write("  ok   test event sent (UDP has no acknowledgement; use tcp to verify)\n")
    elif settings.transport == "console":
        out.write("  ok   test event written to stderr (no Riemann server involved)\n")
    else:
        out.write(f"  ok   test event acknowledged in {elapsed:.1f} ms\n")
    return True
