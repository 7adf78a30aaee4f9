"""A Celery app on kombu's filesystem transport: no broker server to run.

CELERY_FS_DIR names the folder the messages go through (and kombu's control
messages, in its `control` folder, made here: kombu would use the cwd's).
"""

import os

from celery import Celery
from worker_jobs import work

folder = os.environ["CELERY_FS_DIR"]
os.makedirs(os.path.join(folder, "control"), exist_ok=True)
app = Celery("celery_tasks", broker="filesystem://")
app.conf.update(
    broker_transport_options={
        "data_folder_in": folder,
        "data_folder_out": folder,
        "processed_folder": folder,
        "control_folder": os.path.join(folder, "control"),
    },
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task
def add(x, y):
    return x + y


@app.task
def fail(message):
    raise LookupError(message)


@app.task(bind=True, max_retries=1, default_retry_delay=0)
def flaky(self):
    """Fails its first attempt, then succeeds: one retry."""
    if self.request.retries == 0:
        raise self.retry(exc=TimeoutError("first attempt"))
    return "second attempt"


@app.task
def double(n):
    """Calls a RIEMANN_TARGETS target: the task's event and the target's."""
    return work(n)
