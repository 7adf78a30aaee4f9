"""The example shop: an ordinary Flask app that knows nothing of Riemann.

riemann-run times every view (its event is named for the endpoint), the
functions listed in RIEMANN_TARGETS, such as `example_app:lookup_user`, and
each SQL statement and each HTTP request it sends (to the stock service,
example_api.py), named for the view or function it ran in (`parent`). An
order is paid and confirmed by Celery tasks (example_tasks.py), timed in the
worker that runs them.
"""

import asyncio
import json
import os
import sqlite3
import time
import urllib.request

from flask import Blueprint, Flask, Response, abort

DB = sqlite3.connect(":memory:", check_same_thread=False)
DB.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
DB.executemany("INSERT INTO users (id, name) VALUES (?, ?)", [(1, "ann"), (2, "bob")])

users = Blueprint("users", __name__, url_prefix="/users")


def lookup_user(user_id: int) -> str:
    row = DB.execute("SELECT name FROM users WHERE id = ?", (user_id,)).fetchone()
    if row is None:
        abort(404)
    return row[0]


@users.route("/")
def list_users():
    return {"users": [name for (name,) in DB.execute("SELECT name FROM users ORDER BY name")]}


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


@app.route("/shelf/<item>")
def shelf(item: str):
    """How many are left, asked of the stock service (EXAMPLE_STOCK_URL)."""
    url = f"{os.environ.get('EXAMPLE_STOCK_URL', 'http://127.0.0.1:8001')}/stock/{item}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return {"item": item, "left": json.load(response)["level"]}


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
