"""The program the fault suite runs: known calls to targets, then a chosen way out.

    python fault_program.py CALLS EXIT [pause|steady]

Call i runs `Repo().find(str(i))` (one event) and, for odd i, `fail(f"call {i}")`,
which raises (two events, the exception event's description naming the call,
so that a duplicate shows). With `pause`, it stops halfway, prints "half" and
reads a line from stdin. With `steady`, it makes one call a millisecond and
prints "quarter N" as each quarter of the calls is done. It prints "done" (the
test times the exit from there), then leaves by EXIT: normal, sys.exit,
sigterm, sigint, raise, daemon (a daemon thread still recording),
multiprocessing (a forked child recorded too).
"""

import os
import signal
import sys
import threading
import time

from shop.db import Repo, fail


def events(calls: int) -> int:
    """The events `work(calls)` makes."""
    return calls + 2 * (calls // 2)


def work(calls: int, start: int = 0, steady: bool = False) -> None:
    for i in range(start, start + calls):
        if steady:
            time.sleep(0.001)
            if i and i % (calls // 4) == 0:
                print(f"quarter {i // (calls // 4)}", flush=True)
        Repo().find(str(i))
        if i % 2:
            try:
                fail(f"call {i}")
            except LookupError:
                pass
        if i % 100 == 99:
            time.sleep(0.005)  # the sender gets to run while the program does


def record_forever() -> None:
    while True:
        Repo().find("daemon")
        time.sleep(0.001)


def main() -> None:
    calls, how = int(sys.argv[1]), sys.argv[2]
    if how == "daemon":
        threading.Thread(target=record_forever, daemon=True).start()
    if sys.argv[3:] == ["steady"]:
        work(calls, steady=True)
    elif sys.argv[3:] == ["pause"]:
        work(calls // 2)
        print("half", flush=True)
        sys.stdin.readline()
        work(calls - calls // 2, calls // 2)
    else:
        work(calls)
    if how == "multiprocessing":
        import multiprocessing

        child = multiprocessing.get_context("fork").Process(target=work, args=(100, calls))
        child.start()
        child.join()
    print("done", flush=True)
    if how == "sys.exit":
        sys.exit(3)
    if how in ("sigterm", "sigint"):
        os.kill(os.getpid(), signal.SIGTERM if how == "sigterm" else signal.SIGINT)
        time.sleep(10)
    if how == "raise":
        raise RuntimeError("the program failed")


if __name__ == "__main__":
    main()
