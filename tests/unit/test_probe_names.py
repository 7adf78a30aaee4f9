"""Names of outgoing calls are bounded: past the limit, a new one takes its coarser name."""

from __future__ import annotations

from riemann_auto.instrumentation.client import ProbeNames


class Runtime:
    def __init__(self) -> None:
        self.made: list[str] = []

    def probe(self, name: str, attributes: tuple) -> tuple:
        self.made.append(name)
        return (name, attributes)


def test_past_the_limit_a_new_name_takes_its_coarser_one_and_old_names_stay():
    runtime = Runtime()
    names = ProbeNames(
        runtime,
        lambda key: (f"http GET {key}", (("server.address", key),)),
        lambda key: "_OTHER",
        limit=2,
    )
    first = names.get("a.example")
    names.get("b.example")
    assert names.get("c.example") == ("http GET _OTHER", (("server.address", "_OTHER"),))
    assert names.get("d.example") is names.get("c.example")  # one probe for all of them
    assert names.get("a.example") is first  # a name known before the limit keeps its probe
    assert runtime.made == ["http GET a.example", "http GET b.example", "http GET _OTHER"]
