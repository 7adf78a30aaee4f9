"""The one-route Flask app the benchmarks serve."""

from flask import Flask

app = Flask(__name__)


@app.route("/users")
def list_users():
    return {"users": ["ann", "bob"]}


def trivial() -> None:
    return None


def trivial_in_place() -> None:
    """`trivial` again, with a code object of its own to time through sys.monitoring."""
    return None
