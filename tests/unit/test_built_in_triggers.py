"""riemann-auto's own instrumentors are imported when their library is: the table that says
when agrees with their classes, and lists every one of them."""

from __future__ import annotations

from riemann_auto.instrumentation import BUILT_IN_TRIGGERS, ENTRY_POINT_GROUP
from riemann_auto.instrumentation.installed import entry_points


def test_every_built_in_instrumentor_is_triggered_by_the_module_its_class_watches():
    ours = [p for p in entry_points(ENTRY_POINT_GROUP) if p.value.startswith("riemann_auto.")]
    assert sorted(p.value for p in ours) == sorted(BUILT_IN_TRIGGERS)
    for point in ours:
        assert point.load().module == BUILT_IN_TRIGGERS[point.value], point.value
