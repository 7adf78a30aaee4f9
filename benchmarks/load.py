"""A small HTTP load generator: python -m benchmarks.load URL SECONDS THREADS.

Prints the number of completed requests. Each request opens a connection, as
gunicorn's sync workers close it after every response anyway.
"""

from __future__ import annotations

import http.client
import sys
import threading
import time
from urllib.parse import urlsplit


def hammer(host: str, port: int, path: str, deadline: float, counts: list[int], i: int) -> None:
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        conn.close()
        if response.status == 200:
            counts[i] += 1


def main() -> None:
    url, seconds, threads = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    parts = urlsplit(url)
    deadline = time.monotonic() + seconds
    counts = [0] * threads
    workers = [
        threading.Thread(
            target=hammer, args=(parts.hostname, parts.port, parts.path, deadline, counts, i)
        )
        for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(sum(counts))


if __name__ == "__main__":
    main()
