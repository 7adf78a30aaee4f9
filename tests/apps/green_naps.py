"""Green threads each call a timed function and switch away inside it.

They start at 0, 50 and 80 ms and nap 100, 200 and 50 ms, so the calls end in
another order than they began: pairing each end with the latest start would
give other times than 100, 200 and 50 ms. It prints what each nap returned, then
how long each took as the program measured it, in ms.
"""

from gevent import monkey

monkey.patch_all()

import time  # noqa: E402

import gevent  # noqa: E402
import transparent  # noqa: E402


def later(delay, seconds):
    gevent.sleep(delay)
    started = time.perf_counter()
    value = transparent.nap(seconds)
    return value, (time.perf_counter() - started) * 1000


jobs = [gevent.spawn(later, *times) for times in ((0, 0.1), (0.05, 0.2), (0.08, 0.05))]
gevent.joinall(jobs)
print([job.value[0] for job in jobs])
print(*sorted(job.value[1] for job in jobs))
