"""Quiet reporting: one line per kind of trouble while it lasts, one when it ends;
and the words of those lines, in one place.

An outage that flaps (a server that drops every third connection, one that
answers slowly enough to fill the queue) would otherwise print a line per
batch. A trouble begins at its first sign and ends at a review (every
RIEMANN_STATS_INTERVAL) that finds none of it since the previous review, and,
for delivery troubles, at least one acknowledged batch.
"""

from __future__ import annotations

from .. import log
from .ledger import FATES
from .transports import DeliveryError, reason

# What a written batch's failure costs, by kind, as the trouble line says it.
CONSEQUENCES = {
    "timeout": "unanswered events count as failed",
    "lost": "those events count as failed and are never sent twice",
}


class Troubles:
    def __init__(self, address: str) -> None:
        self.address = address
        self._kinds: set[str] = set()  # delivery troubles in the current outage
        self._outage = False
        self._outage_failed = self._outage_rejected = 0  # events, since the outage began
        self._new_failure = False
        self._acknowledged = 0  # at the last review
        self._drops_seen = 0
        self._drops_start: int | None = None  # drops when the queue first overflowed
        self._new_drops = False

    def problem(self, exc: Exception) -> str:
        """What went wrong, in words: the first half of a trouble line, or the exit's cause."""
        at = f"Riemann at {self.address}"
        kind = _kind(exc)
        if kind == "timeout":
            return f"{at} did not answer in time ({exc})"
        if kind == "lost":
            return f"{at} closed the connection before answering ({exc})"
        if kind == "protocol":
            return f"{at} does not answer in Riemann's protocol ({exc})"
        return f"cannot send to {at} ({reason(exc)})"

    def deadline_passed(self, allowed: float) -> str:
        """The exit's cause when Riemann had not answered by the exit deadline."""
        return (
            f"Riemann at {self.address} did not answer within RIEMANN_SHUTDOWN_TIMEOUT={allowed:g}s"
        )

    def at_exit(
        self,
        counts: dict[str, int],
        lost: int,
        cause: str | None,
        late: int,
        *,
        queue_was_full: bool,
    ) -> None:
        """The exit's lines: what was not delivered and why, then the final ledger.

        `cause` is what stopped the exit flush, if anything did; `late` counts the
        events recorded after the exit began, which it was never meant to send.
        """
        if lost:
            causes = [cause] if cause else []
            if late:
                causes.append(f"{late:,} recorded after the exit began")
            if not causes:
                causes.append("the queue was full" if queue_was_full else "the exit ended first")
            what = f"{lost:,} event" + ("s" if lost != 1 else "")
            log.warn(f"{what} not delivered at exit: {'; '.join(causes)}")
        if counts["produced"]:
            log.info(
                f"at exit, {self.address}: produced {counts['produced']:,} = "
                + " + ".join(f"{fate} {counts[fate]:,}" for fate in FATES)
                + f" (riemann-auto's own reports: {counts['reports']:,}"
                + self._summaries(counts)
                + ")"
            )

    @staticmethod
    def _summaries(counts: dict[str, int]) -> str:
        if not counts.get("summaries"):
            return ""
        return (
            f"; summaries: {counts['summaries']:,}, counting the {counts['folded']:,} events "
            "of calls not sent one by one"
        )

    def no_connection(self, exc: Exception, queue_size: int) -> None:
        """No connection that answers: nothing was written, events wait."""
        self.failure(
            f"open-{_kind(exc)}",
            f"{self.problem(exc)}; the program runs on, events wait in the queue "
            f"(RIEMANN_QUEUE_SIZE={queue_size}) and past it are counted in summaries until "
            "Riemann answers",
        )

    def batch_failed(self, exc: Exception, failed: int) -> None:
        """A batch written and not acknowledged: its fate is unknown."""
        consequence = CONSEQUENCES.get(_kind(exc), "those events count as failed")
        self.failure(_kind(exc), f"{self.problem(exc)}; {consequence}", failed=failed)

    def rejected(self, exc: Exception, rejected: int) -> None:
        self.failure(
            "rejected",
            f"Riemann at {self.address} refused {rejected} events: {exc} (Riemann stops at "
            "the first event a stream throws on: those before it were processed)",
            rejected=rejected,
        )

    def failure(self, kind: str, line: str, failed: int = 0, rejected: int = 0) -> None:
        """No connection, or a batch not acknowledged (`failed`) or refused
        (`rejected`); `line` is said if `kind` is new to this outage."""
        if not self._outage:
            self._outage = True
            self._outage_failed = self._outage_rejected = 0
        self._outage_failed += failed
        self._outage_rejected += rejected
        if kind not in self._kinds:
            self._kinds.add(kind)
            log.warn(line)
        self._new_failure = True

    def overflow(self, total: int, queue_size: int) -> None:
        """Called often, with the calls a full queue turned away so far: says so the first
        time the queue overflows."""
        if total == self._drops_seen:
            return
        self._drops_seen = total
        self._new_drops = True
        if self._drops_start is None:
            self._drops_start = total - 1
            log.warn(
                f"the queue is full (RIEMANN_QUEUE_SIZE={queue_size}): new calls are "
                "counted in summaries (<name>-time count) until it has room"
            )

    def review(self, counts: dict[str, int]) -> None:
        """Every stats interval: end the troubles that have stopped, with their counts."""
        acknowledged = counts["acknowledged"] > self._acknowledged
        self._acknowledged = counts["acknowledged"]
        if self._outage and not self._new_failure and acknowledged:
            failed, rejected = self._outage_failed, self._outage_rejected
            if self._kinds == {"rejected"}:
                log.warn(
                    f"Riemann at {self.address} accepts events again "
                    f"({rejected:,} events rejected meanwhile)"
                )
            else:
                log.warn(
                    f"Riemann at {self.address} answers again "
                    f"({failed:,} events failed, {rejected:,} rejected meanwhile)"
                )
            self._outage = False
            self._kinds.clear()
        self._new_failure = False
        if self._drops_start is not None and not self._new_drops:
            log.warn(
                f"the queue has room again ({self._drops_seen - self._drops_start:,} "
                "calls counted in summaries while it was full)"
            )
            self._drops_start = None
        self._new_drops = False


def _kind(exc: Exception) -> str:
    return exc.kind if isinstance(exc, DeliveryError) else "unreachable"
