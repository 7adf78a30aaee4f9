"""Serve flaskapp on werkzeug's development server: python flask_server.py PORT [APP]."""

import sys

import flaskapp

getattr(flaskapp, sys.argv[2] if len(sys.argv) > 2 else "app").run(
    host="127.0.0.1", port=int(sys.argv[1]), threaded=True
)
