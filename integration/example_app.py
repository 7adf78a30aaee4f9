"""The example shop: an ordinary Flask app that knows nothing of Riemann.

riemann-run times every view (its event is named for the endpoint) and the
functions listed in RIEMANN_TARGETS, such as `example_app:lookup_user`. An
order is paid and confirmed by Celery tasks (example_tasks.py), timed in the
worker that runs them.
"""

import asyncio
import time

from flask import Blueprint, Flask, Response, abort

USERS = {1: "ann", 2: "bob"}

users = Blueprint("users", __name__, url_prefix="/users")


def lookup_user(user_id: int) -> str:
    time.sleep(0.002)  # a pretend database
    if user_id not in USERS:
        abort(404)
    return USERS[user_id]


@users.route("/")
def list_users():
    return {"users": sorted(USERS.values())}


@users.route("/<int:user_id>")
def detail(user_id: int):
    return {"id": user_id, "name": lookup_user(user_id)}


app = Flask(__name__)
app.register_blueprint(users)


@app.route("/")
def index():
    return "riemann-auto example shop\n"


@app.route("/checkout")
def checkout():
    raise RuntimeError("payment gateway timed out")


@app.route("/async")
async def slow_async():
    await asyncio.sleep(0.05)
    return "done waiting\n"


@app.route("/stream")
def stream():
    def lines():
        for i in range(3):
            time.sleep(0.02)
            yield f"line {i}\n"

    return Response(lines(), mimetype="text/plain")


@app.route("/orders/<int:amount>", methods=["POST"])
def order(amount: int):
    from example_tasks import charge_card, send_receipt

    order_id = int(time.time() * 1000) % 100_000
    charge_card.delay(order_id, amount)
    send_receipt.delay(order_id)
    return {"order": order_id}, 202


@app.route("/health")
def health():
    return "ok\n"
