"""The Flask app the benchmarks serve: a trivial route, and one that runs SQL and Redis."""

import sqlite3

from flask import Flask

app = Flask(__name__)
# A redis-py client, set by a benchmark that has a Redis to talk to.
REDIS = None


@app.route("/users")
def list_users():
    return {"users": ["ann", "bob"]}


@app.route("/orders")
def list_orders():
    """Five statements, on a connection of its own (what is connected is what is timed),
    and a Redis command when there is a Redis."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, note TEXT)")
    db.executemany("INSERT INTO orders (note) VALUES (?)", [("a",), ("b",)])
    db.execute("UPDATE orders SET note = ? WHERE id = ?", ("c", 1))
    rows = db.execute("SELECT id, note FROM orders WHERE id > ?", (0,)).fetchall()
    db.execute("DELETE FROM orders WHERE id = ?", (2,))
    db.close()
    if REDIS is not None:
        REDIS.get("orders:last")
    return {"orders": rows}


def trivial() -> None:
    return None


def trivial_in_place() -> None:
    """`trivial` again, with a code object of its own to time through sys.monitoring."""
    return None


def fresh_trivial(name: str):
    """`trivial` with a code object of its own, named `name`: sys.monitoring times a code
    object for one probe, and a benchmark's runtime is not the last one's."""
    namespace: dict = {}
    exec(f"def {name}():\n    return None\n", namespace)
    return namespace[name]
