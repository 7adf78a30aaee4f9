"""A target called in tight loops by several threads, and a Flask view, for counting.

`work` raises KeyError on every thousandth call. Run with
RIEMANN_TARGETS=hot_calls:work; `main(calls, threads)` prints the calls it made.
`forked(calls)` makes them in this process, then as many in a forked child.
"""

import os
import sys
import threading

from flask import Flask


def work(i: int) -> int:
    if i % 1000 == 999:
        raise KeyError(i)
    return i


def loop(calls: int) -> None:
    for i in range(calls):
        try:
            work(i)
        except KeyError:
            pass


def main(calls: int, threads: int) -> None:
    running = [threading.Thread(target=loop, args=(calls,)) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    print(calls * threads)


def forked(calls: int) -> None:
    loop(calls)
    child = os.fork()
    loop(calls)
    if child == 0:
        sys.exit(0)  # the child's exit flushes its own summaries
    os.waitpid(child, 0)


app = Flask(__name__)


@app.route("/items/<int:item>", methods=["GET", "POST"])
def items(item: int):
    if item == 0:
        return "none", 404
    return {"item": item}


def requests(number: int) -> None:
    client = app.test_client()
    for i in range(number):
        client.get(f"/items/{i % 5}")
    client.post("/items/7")
