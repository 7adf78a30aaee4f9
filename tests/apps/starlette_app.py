"""A Starlette app with every kind of route, for tests/test_starlette.py: starlette_app:app."""

import asyncio
import os
import time

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.endpoints import HTTPEndpoint
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route, Router


def users(request):  # sync: run in the threadpool
    return JSONResponse({"users": ["ann", "bob"], "pid": os.getpid()})


async def user(request):
    return PlainTextResponse(str(request.path_params["user_id"]))


async def slow(request):
    await asyncio.sleep(0.05)
    return PlainTextResponse("slow")


class Items(HTTPEndpoint):
    async def get(self, request):
        return PlainTextResponse("items")

    async def post(self, request):
        return PlainTextResponse("created", status_code=201)


async def missing(request):
    raise HTTPException(404, "no such thing")


async def unavailable(request):
    raise HTTPException(503, "down for maintenance")


async def fail(request):
    raise RuntimeError("database is down")


class Handled(Exception):
    pass


class Refused(Exception):
    pass


async def handled(request):
    raise Handled("turned into a 502")


async def refused(request):
    raise Refused("turned into a 409")


async def returned_503(request):
    return PlainTextResponse("busy", status_code=503)


async def stream(request):
    async def chunks():
        for i in range(3):
            await asyncio.sleep(0.03)
            yield f"{i}\n"

    return StreamingResponse(chunks(), status_code=206)


async def stream_fail(request):
    async def chunks():
        yield "0\n"
        await asyncio.sleep(0.01)
        raise ValueError("broken mid-stream")

    return StreamingResponse(chunks())


def _after():
    time.sleep(0.5)


def _after_fail():
    raise LookupError("background work failed")


async def background(request):
    return PlainTextResponse("later", background=BackgroundTask(_after))


async def background_fail(request):
    return PlainTextResponse("later", background=BackgroundTask(_after_fail))


async def health(request):
    return PlainTextResponse("ok")


async def stats(request):
    return PlainTextResponse("stats")


async def member(request):
    return PlainTextResponse(request.path_params["org"] + "/" + request.path_params["name"])


async def raw_asgi(scope, receive, send):  # a plain ASGI app mounted: not a route
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"raw"})


admin = Router(routes=[Route("/stats", stats)])
orgs = Starlette(routes=[Route("/members/{name}", member, name="member")])

app = Starlette(
    routes=[
        Route("/users", users),
        Route("/users/{user_id:int}", user, name="user_detail"),
        Route("/slow", slow),
        Route("/items", Items),
        Route("/missing", missing),
        Route("/unavailable", unavailable),
        Route("/fail", fail),
        Route("/handled", handled),
        Route("/refused", refused),
        Route("/returned-503", returned_503),
        Route("/stream", stream),
        Route("/stream-fail", stream_fail),
        Route("/background", background),
        Route("/background-fail", background_fail),
        Route("/health", health),
        Mount("/admin", routes=[Mount("/deep", app=admin, name="deep")], name="admin"),
        Mount("/orgs/{org}", app=orgs),
        Mount("/raw", app=raw_asgi),
    ],
    exception_handlers={
        Handled: lambda request, exc: PlainTextResponse(str(exc), status_code=502),
        Refused: lambda request, exc: PlainTextResponse(str(exc), status_code=409),
    },
)
app.add_route("/added", lambda request: PlainTextResponse("added"), name="added")
