"""The Flask app `--only compare` serves to every agent: one JSON view, nothing else.

Its own module, left plain, so that each agent instruments the very same code: the seed
wraps its view from outside (benchmarks/compare_seed.py), the others with no change.
"""

from flask import Flask

app = Flask(__name__)


@app.route("/users")
def list_users() -> dict[str, list[str]]:
    return {"users": ["ann", "bob"]}
