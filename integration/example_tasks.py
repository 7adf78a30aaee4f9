"""The example shop's background work: a Celery app that knows nothing of Riemann.

Orders are queued through kombu's filesystem transport, in the folder named by
EXAMPLE_QUEUE_DIR (handled messages move to its `done` folder), so the demo
needs no broker server. kombu's control messages go to its `control` folder:
left to itself kombu would make `control` in the current folder, inside the
checkout. riemann-run times every task in the worker that runs it, named for
the task.
"""

import os
import time

from celery import Celery

folder = os.environ["EXAMPLE_QUEUE_DIR"]
for sub in ("done", "control"):
    os.makedirs(os.path.join(folder, sub), exist_ok=True)
app = Celery("example_tasks", broker="filesystem://")
app.conf.update(
    broker_transport_options={
        "data_folder_in": folder,
        "data_folder_out": folder,
        "processed_folder": os.path.join(folder, "done"),
        "control_folder": os.path.join(folder, "control"),
    },
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task
def send_receipt(order_id: int) -> str:
    time.sleep(0.01)  # a pretend mail server
    return f"receipt for order {order_id}"


@app.task
def charge_card(order_id: int, amount: int) -> str:
    if amount > 100:
        raise ValueError(f"card declined for order {order_id}")
    return "charged"
