"""How long to leave Riemann alone after a failure: doubling, capped.

Events wait in the queue while Riemann is away; the cap bounds how long they
wait after it is back, against a connection attempt every 2 s while it is not.
"""

from __future__ import annotations

import time

FIRST = 0.1
MAX = 2.0  # an outage ends for us at most this long after it ends for Riemann


class Backoff:
    __slots__ = ("delay", "until")

    def __init__(self) -> None:
        self.delay = 0.0
        self.until = 0.0  # monotonic time before which nothing is sent

    def failed(self) -> None:
        self.delay = min(max(self.delay * 2, FIRST), MAX)
        self.until = time.monotonic() + self.delay

    def succeeded(self) -> None:
        self.delay = self.until = 0.0

    def waiting(self, now: float) -> bool:
        return now < self.until
