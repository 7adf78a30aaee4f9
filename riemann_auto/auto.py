"""`import riemann_auto.auto` as a program's first import: riemann-run from code.

For launchers that cannot set PYTHONPATH (uWSGI, embedded interpreters). Safe
to combine with riemann-run: the second bootstrap does nothing.
"""

from .startup.bootstrap import bootstrap

bootstrap(discover_now=True)
