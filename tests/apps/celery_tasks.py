"""A Celery app on kombu's filesystem transport: no broker server to run.

CELERY_FS_DIR names the folder the messages go through (and kombu's control
messages, in its `control` folder, made here: kombu would use the cwd's).
"""

import os
import time
import uuid

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.json import dumps
from worker_jobs import work


class Channel(filesystem.Channel):
    """Each message file appears whole (kombu creates it, then writes it).

    A worker polling the folder at that moment takes the empty file and the
    message is lost: a client submitting to a running worker, or a task
    retried from a pool thread, would sometimes never run.
    """

    def _put(self, queue, payload, **kwargs):
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        path = os.path.join(self.data_folder_out, name)
        with open(f"{path}.part", "wb") as file:  # a name the worker does not read
            file.write(dumps(payload).encode())
        os.rename(f"{path}.part", path)


class Transport(filesystem.Transport):
    Channel = Channel


TRANSPORT_ALIASES["whole-files"] = "celery_tasks:Transport"

folder = os.environ["CELERY_FS_DIR"]
os.makedirs(os.path.join(folder, "control"), exist_ok=True)
app = Celery("celery_tasks", broker="whole-files://")
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


_stamps: int | None = None


@app.task
def stamped_add(x, y):
    """`add` that also appends its finishing time to the file CELERY_STAMPS names.

    The Celery benchmark's clock: the worker's own pace, without its start-up or
    shutdown. O_APPEND, so each line lands whole whichever pool process writes it.
    """
    global _stamps
    if _stamps is None:
        _stamps = os.open(os.environ["CELERY_STAMPS"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.write(_stamps, b"%.6f\n" % time.monotonic())
    return x + y
