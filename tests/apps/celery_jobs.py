"""A Celery app on kombu's filesystem transport (no broker server), whose task
calls `worker_jobs.work`. CELERY_FS_DIR names the folder messages go through."""

import os

from celery import Celery
from worker_jobs import work

folder = os.environ["CELERY_FS_DIR"]
app = Celery("celery_jobs", broker="filesystem://")
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
def double(n):
    return work(n)
