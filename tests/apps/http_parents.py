"""HTTP requests sent inside a Flask view and a target inside it.

Each request's event must name, as `parent`, the innermost of those it was sent
from. Run with RIEMANN_TARGETS=http_parents:lookup and HTTP_PORT set.
"""

import os
import urllib.request

import httpx
import requests
from flask import Flask

BASE = f"http://127.0.0.1:{os.environ['HTTP_PORT']}"


def lookup() -> int:
    return httpx.get(BASE + "/ok").status_code


app = Flask(__name__)


@app.route("/orders")
def orders():
    requests.get(BASE + "/ok")
    lookup()  # the target, inside the view: the target is its request's parent
    urllib.request.urlopen(BASE + "/ok").read()  # the view again
    return {"ok": True}


def main() -> None:
    requests.get(BASE + "/ok")  # inside nothing
    assert app.test_client().get("/orders").status_code == 200
