"""Celery: every task timed where it runs, through Celery's own signals.

Celery announces each task execution in the worker, whatever the pool
(prefork, solo, threads, gevent): `task_prerun` right before the task's
function runs and `task_postrun` right after, with the final state, once the
result is stored. Between them `task_failure` carries the exception of a task
that failed. So the signals are the hook, as OpenTelemetry's Celery
instrumentation uses them, and `uninstrument` disconnects exactly what
`_instrument` connected. Nothing is wrapped, so a task object stays what the
program made.

The event is named by the task's name (`tasks.add-time`) and carries
`celery.task_name` and `celery.state` (SUCCESS, FAILURE, RETRY, IGNORED,
REJECTED). A failure gives an exception event; a retry is no failure: it is
timed with state RETRY, and the new attempt is timed again when it runs.
Executions are paired by task id and request context, so concurrent tasks
on threads or green threads, and a retry that starts before the attempt that
asked for it has finished, each get their own time. This module must not import celery at
import time.
"""

from __future__ import annotations

from time import perf_counter_ns

from ..timing import parent
from ..timing.errors import describe
from . import Instrumentor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..probe import Probe
    from ..runtime import Runtime


class CeleryInstrumentor(Instrumentor):
    name = "celery"
    module = "celery"
    distribution = "celery"
    supported = ((5, 3), (6,))

    def _instrument(self, runtime: Runtime) -> None:
        from celery import signals

        tasks = _TaskTimer(runtime)
        for signal, handler in (
            (signals.task_prerun, tasks.started),
            (signals.task_failure, tasks.failed),
            (signals.task_postrun, tasks.finished),
        ):
            signal.connect(handler, weak=False)
            self._on_uninstrument(lambda signal=signal, handler=handler: signal.disconnect(handler))


class _TaskTimer:
    """The three signal handlers, sharing what runs between them."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._probes: dict[str, Probe] = {}
        self._starts: dict[str, int] = {}
        self._parents: dict[tuple, object] = {}  # the parent each execution set
        self._errors: dict[str, tuple[str, str]] = {}
        self._states: dict[str, tuple] = {}

    # An execution is its task id and its request context: a retry runs under the
    # same id, and on a threads or green pool it may start before the attempt
    # that asked for it has finished.

    def started(self, task_id=None, task=None, **_) -> None:
        execution = (task_id, id(task.request))
        if parent.wanted:
            self._parents[execution] = parent.current.set(task.name)
        self._starts[execution] = perf_counter_ns()

    def failed(self, task_id=None, exception=None, sender=None, **_) -> None:
        if exception is not None and sender is not None:
            self._errors[(task_id, id(sender.request))] = describe(exception)

    def finished(self, task_id=None, task=None, state=None, **_) -> None:
        end = perf_counter_ns()
        if task is None:
            return
        execution = (task_id, id(task.request))
        start = self._starts.pop(execution, None)
        error = self._errors.pop(execution, None)
        token = self._parents.pop(execution, None)
        if token is not None:
            try:
                parent.current.reset(token)
            except ValueError:  # not the context it was set in: it goes with that one
                pass
        if start is None:
            return
        probe = self._probe(task.name)
        probe.record((probe, end - start, end, error, self._state(str(state))))

    def _probe(self, name: str) -> Probe:
        probe = self._probes.get(name)
        if probe is None:
            probe = self._probes[name] = self._runtime.probe(name, (("celery.task_name", name),))
        return probe

    def _state(self, state: str) -> tuple:
        extra = self._states.get(state)
        if extra is None:
            extra = self._states[state] = (("celery.state", state),)
        return extra
