"""Green threads time calls concurrently, with gevent or eventlet patching before or
after riemann-auto's sender started.

python green_order.py gevent|eventlet before|after CALLS: with "after", one timed
call runs before patching (the sender's thread starts then); then CALLS calls
from 50 green threads at once, and the program ends. Timed: transparent.nap.
"""

import sys

library, order, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
if order == "after":
    import transparent

    transparent.nap(0)
    calls -= 1
if library == "gevent":
    from gevent import monkey

    monkey.patch_all()
    import gevent

    def run_all(work, count):
        gevent.joinall([gevent.spawn(work) for _ in range(count)], raise_error=True)

else:
    import eventlet

    eventlet.monkey_patch()

    def run_all(work, count):
        pool = eventlet.GreenPool(count)
        for _ in range(count):
            pool.spawn(work)
        pool.waitall()


import transparent  # noqa: E402

per_thread, extra = divmod(calls, 50)


def work():
    for _ in range(per_thread):
        transparent.nap(0.001)


run_all(work, 50)
for _ in range(extra):
    transparent.nap(0)
print("done", flush=True)
