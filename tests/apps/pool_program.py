"""A program whose timed calls all run on a ThreadPoolExecutor's threads.

python pool_program.py CALLS: calls shop.db.query CALLS times from 8 pool
threads (the main thread never calls it), says "ready" on stderr, then waits
to be stopped.
"""

import sys
import time
from concurrent.futures import ThreadPoolExecutor

from shop import db

with ThreadPoolExecutor(8) as pool:
    list(pool.map(lambda i: db.query(f"q{i}", limit=1), range(int(sys.argv[1]))))
sys.stderr.write("ready\n")
sys.stderr.flush()
while True:
    time.sleep(1)
