"""Another tool of sys.monitoring beside riemann-auto, started before or after it.

    python share_monitoring.py before|after

`before`: the tool takes sys.monitoring's tool ids 3 and 4 (the two free ones,
riemann-auto's) before the program imports what riemann-auto times. `after`:
the tool comes once riemann-auto has timed a call, and takes the first id left.
Either way the tool counts the starts of `transparent.square` with PY_START, and
the program prints that count, which must be its number of calls.
"""

import sys

monitoring = sys.monitoring
starts = 0


def on_start(code, offset):
    global starts
    if code.co_name == "square":
        starts += 1


def take(ids):
    """The tool: the first of `ids` that is free (all of them for `before`)."""
    taken = []
    for tool in ids:
        if monitoring.get_tool(tool) is None:
            monitoring.use_tool_id(tool, "another agent")
            taken.append(tool)
    monitoring.register_callback(taken[0], monitoring.events.PY_START, on_start)
    monitoring.set_events(taken[0], monitoring.events.PY_START)
    return taken


if sys.argv[1] == "before":
    take((3, 4))
import transparent  # noqa: E402  (timed by riemann-auto on import)

transparent.square(1)
if sys.argv[1] == "after":
    take((3, 4, 5))
for i in range(5):
    transparent.square(i)
print("starts counted by the other tool:", starts)
