"""PostgreSQL statements run inside a Flask view and a target inside it.

Each statement's event must name, as `parent`, the innermost of those it ran
in. Run with RIEMANN_TARGETS=pg_parents:lookup and PG_DSN set.
"""

import os

import psycopg
import psycopg2
from flask import Flask

DSN = os.environ["PG_DSN"]
OLD = psycopg2.connect(DSN)
NEW = psycopg.connect(DSN, autocommit=True)
OLD.cursor().execute("SELECT 1")  # no parent


def lookup() -> list:
    return NEW.execute("SELECT datname FROM pg_database").fetchall()


flask_app = Flask(__name__)


@flask_app.route("/orders")
def orders():
    with OLD.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_class")
    lookup()  # the target, inside the view: the target is its statement's parent
    NEW.execute("SELECT count(*) FROM pg_namespace")  # the view again
    return {"ok": True}


def main() -> None:
    assert flask_app.test_client().get("/orders").status_code == 200
    NEW.execute("SELECT 2")  # after it
