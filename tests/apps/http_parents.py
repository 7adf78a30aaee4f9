"""HTTP requests sent inside a Flask view, an async FastAPI route and targets inside them.

Each request's event must name, as `parent`, the innermost of those it was sent
from. Run with RIEMANN_TARGETS=http_parents:lookup,http_parents:fetch and HTTP_PORT set.
"""

import asyncio
import os
import urllib.request

import aiohttp
import fastapi
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


async def fetch() -> int:
    async with aiohttp.ClientSession() as session, session.get(BASE + "/ok") as response:
        return response.status


api = fastapi.FastAPI()


@api.get("/async")
async def async_route():
    async with aiohttp.ClientSession() as session, session.get(BASE + "/ok"):
        pass
    await fetch()  # a coroutine target, inside the route
    return {"ok": True}


async def call_api() -> None:
    # httpx's ASGITransport calls the app in this task, and sends nothing: no event of its own.
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/async")).status_code == 200


def main() -> None:
    requests.get(BASE + "/ok")  # inside nothing
    assert app.test_client().get("/orders").status_code == 200
    asyncio.run(call_api())
