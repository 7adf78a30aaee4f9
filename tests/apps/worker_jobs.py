"""A plain function to time (a RIEMANN_TARGETS target) for uWSGI, Celery and pools."""

import time


def work(n: int) -> int:
    return n * 2


def slow(seconds: float) -> float:
    time.sleep(seconds)
    return seconds
