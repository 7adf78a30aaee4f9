"""riemann-run: run any Python program instrumented, with no change to its code.

    riemann-run [--check | --version | --help] PROGRAM [ARGS...]

It puts riemann-auto's sitecustomize folder first on PYTHONPATH and replaces
itself with PROGRAM (same pid; signals and exit status are the program's).

The `riemann-run` command is a shell script (`riemann-run` beside this file)
that does the common case itself, without a Python start, where it finds the
hook folder an installed wheel put beside it; it runs this module
for options, editable installs and a program it cannot find, so that what
users read is written in one place, here.
Kept free of argparse and shutil all the same.
"""

from __future__ import annotations

import os
import sys

USAGE = """\
usage: riemann-run [--check | --version | --help] PROGRAM [ARGS...]

Runs PROGRAM with riemann-auto: Flask and Django views, Starlette and FastAPI
routes, Celery tasks, SQL statements (sqlite3, psycopg2, psycopg, asyncpg),
Redis commands, HTTP requests (urllib3, requests, urllib.request, httpx,
aiohttp) and the functions named in RIEMANN_TARGETS are timed; each call, and each
exception, is an event sent to Riemann.

  riemann-run gunicorn shop:app
  RIEMANN_TARGETS=shop.db:query riemann-run python -m shop

options:
  --check     print the settings, import every target, send a test event
              and wait for Riemann's answer; exit 0 only if all is well
  --version   print riemann-auto's version
  --help      print this help

Settings are RIEMANN_* environment variables (RIEMANN_HOST, RIEMANN_PORT,
RIEMANN_TRANSPORT, RIEMANN_TARGETS, ...); see the README for all of them.
RIEMANN_TRANSPORT=console prints the events on stderr instead of sending them.
"""


def find_program(program: str, path: str | None = None) -> str | None:
    """Where a shell would find PROGRAM: as given if it has a slash, else on PATH."""
    if os.sep in program:
        return program if os.path.exists(program) else None
    for folder in (path if path is not None else os.environ.get("PATH", os.defpath)).split(
        os.pathsep
    ):
        candidate = os.path.join(folder or os.curdir, program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        (sys.stdout if args else sys.stderr).write(USAGE)
        return 0 if args else 2
    if args[0] == "--version":
        from .. import __version__

        print(f"riemann-run (riemann-auto) {__version__}")
        return 0
    if args[0] == "--check":
        from ..check import check

        return check()
    if args[0] == "--":
        args = args[1:]
    if args and args[0].startswith("-"):
        sys.stderr.write(f"riemann-run: unknown option {args[0]}\n{USAGE}")
        return 2
    if not args:
        sys.stderr.write(USAGE)
        return 2
    return run(args)


def run(args: list[str]) -> int:
    from .bootstrap import with_hook_on_pythonpath

    program = find_program(args[0])
    if program is None:
        sys.stderr.write(f"riemann-run: {args[0]}: command not found\n")
        return 127
    os.environ["PYTHONPATH"] = with_hook_on_pythonpath(os.environ.get("PYTHONPATH"))
    try:
        os.execv(program, args)
    except OSError as exc:
        sys.stderr.write(f"riemann-run: {args[0]}: {exc.strerror}\n")
        return 126
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
