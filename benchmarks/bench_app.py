"""The one-route Flask app the benchmarks serve."""

from flask import Flask

app = Flask(__name__)


@app.route("/users")
def list_users():
    return {"users": ["ann", "bob"]}


def trivial() -> None:
    return None
