"""A FastAPI app with every kind of route, for tests/test_starlette.py: fastapi_app:app."""

import asyncio
import os
import time

from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, HTTPException
from fastapi.responses import PlainTextResponse, StreamingResponse

app = FastAPI()
opened = []


def database():
    opened.append(1)
    try:
        yield "db"
    finally:
        opened.pop()


@app.get("/users")
def list_users():  # sync: run in the threadpool
    return {"users": ["ann", "bob"], "pid": os.getpid()}


@app.get("/users/{user_id}")
async def get_user(user_id: int, db: str = Depends(database)):
    return {"id": user_id, "db": db}


@app.post("/users", status_code=201)
async def create_user(name: str):
    return {"name": name}


@app.get("/slow")
async def slow():
    await asyncio.sleep(0.05)
    return "slow"


@app.get("/missing")
async def missing():
    raise HTTPException(404, "no such user")


@app.get("/unavailable")
async def unavailable():
    raise HTTPException(503, "down for maintenance")


@app.get("/fail")
def fail():
    raise RuntimeError("database is down")


@app.get("/stream")
async def stream():
    async def chunks():
        for i in range(3):
            await asyncio.sleep(0.03)
            yield f"{i}\n"

    return StreamingResponse(chunks())


def _after(seconds: float):
    time.sleep(seconds)


@app.get("/background")
async def background(tasks: BackgroundTasks):
    tasks.add_task(_after, 0.5)
    return "later"


@app.get("/health", response_class=PlainTextResponse)
async def health():
    return "ok"


items = APIRouter(prefix="/items")


@items.get("/{item_id}")
async def read_item(item_id: str):
    return {"item": item_id}


shop = APIRouter(prefix="/shop/{shop_id}")
shop.include_router(items)


@shop.get("/")
def shop_home(shop_id: str):
    return {"shop": shop_id}


app.include_router(shop)
versioned = APIRouter()


@versioned.get("/status")
async def status():
    return {"ok": True}


app.include_router(versioned, prefix="/v1")
app.include_router(versioned, prefix="/v2")

sub = FastAPI()


@sub.get("/ping")
async def ping():
    return "pong"


app.mount("/sub", sub, name="sub")
