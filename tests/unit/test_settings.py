"""RIEMANN_* settings: each one's default, the values it takes, and the one line a bad
value gets (the default is then used: a bad setting never stops the program)."""

from __future__ import annotations

import pytest

from riemann_auto import log
from riemann_auto.settings import Settings


def read(**environ: str) -> tuple[Settings, list[str]]:
    """The settings of this environment, and the lines said about it."""
    lines: list[str] = []
    return Settings.from_environ(environ, lines.append), lines


DEFAULTS = {
    "host": "127.0.0.1",
    "port": 5555,
    "transport": "tcp",
    "tls_ca_file": None,
    "tls_cert_file": None,
    "tls_key_file": None,
    "targets": (),
    "tags": ("python",),
    "service_prefix": "",
    "event_host": "",
    "ttl": None,
    "exception_state": "critical",
    "disabled_instrumentations": frozenset(),
    "flask_excluded_routes": frozenset(),
    "starlette_excluded_routes": frozenset(),
    "django_excluded_routes": frozenset(),
    "enabled": True,
    "queue_size": 10_000,
    "batch_size": 256,
    "flush_interval": 0.2,
    "shutdown_timeout": 2.0,
    "timeout": 2.0,
    "stats_interval": 10.0,
    "log_level": "WARNING",
    "problems": (),
}


def test_an_empty_environment_gives_every_default_and_says_nothing():
    settings, lines = read()
    assert {name: getattr(settings, name) for name in DEFAULTS} == DEFAULTS
    assert lines == []


def test_a_blank_value_is_the_default_and_no_problem():
    settings, lines = read(RIEMANN_PORT="  ", RIEMANN_TRANSPORT="", RIEMANN_HOST=" ")
    assert (settings.port, settings.transport, settings.host) == (5555, "tcp", "127.0.0.1")
    assert lines == []


def setting_of(variable: str) -> str:
    """The setting a variable sets: RIEMANN_QUEUE_SIZE, queue_size."""
    return "enabled" if variable == "RIEMANN_AUTO_ENABLED" else variable[8:].lower()


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("RIEMANN_HOST", " riemann.internal ", "riemann.internal"),
        ("RIEMANN_PORT", "5556", 5556),
        ("RIEMANN_PORT", "1", 1),
        ("RIEMANN_PORT", "65535", 65535),
        ("RIEMANN_TRANSPORT", "UDP", "udp"),
        ("RIEMANN_TRANSPORT", "console", "console"),
        (
            "RIEMANN_TARGETS",
            " shop.db:query, ,shop.db:Repo.* ",
            ("shop.db:query", "shop.db:Repo.*"),
        ),
        ("RIEMANN_TAGS", "web, eu", ("web", "eu")),
        ("RIEMANN_TAGS", "", ()),  # set and empty: no tags at all
        ("RIEMANN_SERVICE_PREFIX", "shop.", "shop."),
        ("RIEMANN_EVENT_HOST", "web-1", "web-1"),
        ("RIEMANN_TTL", "30", 30.0),
        ("RIEMANN_TTL", "0", 0.0),
        ("RIEMANN_EXCEPTION_STATE", "warning", "warning"),
        ("RIEMANN_DISABLED_INSTRUMENTATIONS", "Flask, CELERY", frozenset({"flask", "celery"})),
        ("RIEMANN_FLASK_EXCLUDED_ROUTES", "/health,/metrics", frozenset({"/health", "/metrics"})),
        ("RIEMANN_STARLETTE_EXCLUDED_ROUTES", "/health", frozenset({"/health"})),
        ("RIEMANN_DJANGO_EXCLUDED_ROUTES", "health/", frozenset({"health/"})),
        ("RIEMANN_AUTO_ENABLED", "false", False),
        ("RIEMANN_AUTO_ENABLED", "0", False),
        ("RIEMANN_AUTO_ENABLED", "No", False),
        ("RIEMANN_AUTO_ENABLED", "OFF", False),
        ("RIEMANN_AUTO_ENABLED", "true", True),
        ("RIEMANN_AUTO_ENABLED", "1", True),
        ("RIEMANN_AUTO_ENABLED", "yes", True),
        ("RIEMANN_AUTO_ENABLED", "on", True),
        ("RIEMANN_QUEUE_SIZE", "1", 1),
        ("RIEMANN_QUEUE_SIZE", "10000000", 10_000_000),
        ("RIEMANN_BATCH_SIZE", "10000", 10_000),
        ("RIEMANN_FLUSH_INTERVAL", "0.001", 0.001),
        ("RIEMANN_FLUSH_INTERVAL", "60", 60.0),
        ("RIEMANN_TIMEOUT", "0.01", 0.01),
        ("RIEMANN_TIMEOUT", "600", 600.0),
        ("RIEMANN_SHUTDOWN_TIMEOUT", "0", 0.0),
        ("RIEMANN_STATS_INTERVAL", "86400", 86400.0),
        ("RIEMANN_LOG_LEVEL", "debug", "DEBUG"),
        ("RIEMANN_LOG_LEVEL", "Error", "ERROR"),
    ],
)
def test_a_valid_value_is_taken(variable, value, expected):
    settings, lines = read(**{variable: value})
    assert getattr(settings, setting_of(variable)) == expected
    assert lines == []


def test_tls_listens_on_5554_unless_a_port_is_given():
    assert read(RIEMANN_TRANSPORT="tls")[0].port == 5554
    assert read(RIEMANN_TRANSPORT="tls", RIEMANN_PORT="6000")[0].port == 6000


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        ("RIEMANN_PORT", "http", "RIEMANN_PORT='http' is not a int number; using 5555"),
        ("RIEMANN_PORT", "0", "RIEMANN_PORT='0' is out of range (1 to 65535); using 5555"),
        ("RIEMANN_PORT", "65536", "RIEMANN_PORT='65536' is out of range (1 to 65535); using 5555"),
        ("RIEMANN_TRANSPORT", "http",
         "RIEMANN_TRANSPORT='http' is not one of tcp, udp, tls, console; using 'tcp'"),
        ("RIEMANN_AUTO_ENABLED", "Maybe",
         "RIEMANN_AUTO_ENABLED='maybe' is not true or false; using True"),
        ("RIEMANN_TTL", "-1", "RIEMANN_TTL='-1' is out of range (0.0 to 1000000000.0); using None"),
        ("RIEMANN_TTL", "1 min", "RIEMANN_TTL='1 min' is not a float number; using None"),
        ("RIEMANN_QUEUE_SIZE", "0",
         "RIEMANN_QUEUE_SIZE='0' is out of range (1 to 10000000); using 10000"),
        ("RIEMANN_BATCH_SIZE", "1.5", "RIEMANN_BATCH_SIZE='1.5' is not a int number; using 256"),
        ("RIEMANN_BATCH_SIZE", "10001",
         "RIEMANN_BATCH_SIZE='10001' is out of range (1 to 10000); using 256"),
        ("RIEMANN_FLUSH_INTERVAL", "fast",
         "RIEMANN_FLUSH_INTERVAL='fast' is not a float number; using 0.2"),
        ("RIEMANN_FLUSH_INTERVAL", "0",
         "RIEMANN_FLUSH_INTERVAL='0' is out of range (0.001 to 60.0); using 0.2"),
        ("RIEMANN_TIMEOUT", "0.001",
         "RIEMANN_TIMEOUT='0.001' is out of range (0.01 to 600.0); using 2.0"),
        ("RIEMANN_SHUTDOWN_TIMEOUT", "61",
         "RIEMANN_SHUTDOWN_TIMEOUT='61' is out of range (0.0 to 60.0); using 2.0"),
        ("RIEMANN_STATS_INTERVAL", "nan",
         "RIEMANN_STATS_INTERVAL='nan' is out of range (0.01 to 86400.0); using 10.0"),
        ("RIEMANN_LOG_LEVEL", "loud",
         "RIEMANN_LOG_LEVEL='loud' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL; "
         "using 'WARNING'"),
        ("RIEMANN_TLS_CA_FILE", "/no/such/ca.pem",
         "RIEMANN_TLS_CA_FILE='/no/such/ca.pem' is not a readable file; using None"),
    ],
)  # fmt: skip
def test_a_bad_value_is_said_in_one_line_and_the_default_used(variable, value, line):
    settings, lines = read(**{variable: value})
    setting = setting_of(variable)
    assert getattr(settings, setting) == DEFAULTS[setting]
    assert lines == [line]
    assert settings.problems == (line,)


def test_a_bad_port_under_tls_falls_back_to_tlss_port():
    settings, lines = read(RIEMANN_TRANSPORT="tls", RIEMANN_PORT="none")
    assert settings.port == 5554
    assert lines == ["RIEMANN_PORT='none' is not a int number; using 5554"]


def test_a_client_certificate_without_its_key_is_left_out(tmp_path):
    cert = tmp_path / "client.pem"
    cert.write_text("")
    settings, lines = read(RIEMANN_TLS_CERT_FILE=str(cert))
    assert (settings.tls_cert_file, settings.tls_key_file) == (None, None)
    assert lines == [
        "RIEMANN_TLS_CERT_FILE and RIEMANN_TLS_KEY_FILE go together; "
        "connecting without a client certificate"
    ]


def test_tls_files_that_exist_are_taken(tmp_path):
    paths = {}
    for name in ("ca", "cert", "key"):
        paths[name] = tmp_path / f"{name}.pem"
        paths[name].write_text("")
    settings, lines = read(
        RIEMANN_TLS_CA_FILE=str(paths["ca"]),
        RIEMANN_TLS_CERT_FILE=str(paths["cert"]),
        RIEMANN_TLS_KEY_FILE=str(paths["key"]),
    )
    assert (settings.tls_ca_file, settings.tls_cert_file, settings.tls_key_file) == tuple(
        str(paths[name]) for name in ("ca", "cert", "key")
    )
    assert lines == []


def test_every_bad_value_is_said_once_in_the_order_read():
    _, lines = read(RIEMANN_PORT="x", RIEMANN_TRANSPORT="carrier pigeon", RIEMANN_TIMEOUT="-1")
    assert lines == [
        "RIEMANN_TRANSPORT='carrier pigeon' is not one of tcp, udp, tls, console; using 'tcp'",
        "RIEMANN_PORT='x' is not a int number; using 5555",
        "RIEMANN_TIMEOUT='-1' is out of range (0.01 to 600.0); using 2.0",
    ]


def test_bad_values_go_to_riemann_autos_warnings_unless_told_otherwise(monkeypatch):
    warned: list[str] = []
    monkeypatch.setattr(log, "warn", warned.append)
    Settings.from_environ({"RIEMANN_QUEUE_SIZE": "many"})
    assert warned == ["RIEMANN_QUEUE_SIZE='many' is not a int number; using 10000"]


def test_a_log_level_above_warning_silences_the_lines_but_keeps_the_problems(monkeypatch):
    warned: list[str] = []
    monkeypatch.setattr(log, "warn", warned.append)
    settings = Settings.from_environ({"RIEMANN_QUEUE_SIZE": "many", "RIEMANN_LOG_LEVEL": "ERROR"})
    assert warned == []
    assert settings.problems == ("RIEMANN_QUEUE_SIZE='many' is not a int number; using 10000",)


def test_the_address_names_transport_host_and_port():
    assert read(RIEMANN_HOST="r.example", RIEMANN_PORT="6000")[0].address == "tcp://r.example:6000"
    assert read(RIEMANN_TRANSPORT="tls")[0].address == "tls://127.0.0.1:5554"
    assert read(RIEMANN_TRANSPORT="console")[0].address == "console (stderr)"


def test_replace_gives_new_settings_and_refuses_unknown_ones():
    settings = Settings.from_environ({})
    changed = settings.replace(port=6000)
    assert (changed.port, settings.port) == (6000, 5555)
    with pytest.raises(TypeError, match="unknown setting 'colour'"):
        settings.replace(colour="blue")
