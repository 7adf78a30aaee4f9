"""The example shop's stock service: an ordinary FastAPI app that knows nothing of Riemann.

riemann-run times every route, named for the route (`stock_level`), with
`http.route` the path template (`/stock/{item}`).
"""

import asyncio

from fastapi import FastAPI, HTTPException

STOCK = {"tea": 12, "cake": 0}

app = FastAPI()


@app.get("/stock")
async def stock_list():
    return STOCK


@app.get("/stock/{item}")
async def stock_level(item: str):
    await asyncio.sleep(0.005)  # a pretend warehouse
    if item not in STOCK:
        raise HTTPException(status_code=404, detail=f"no {item} here")
    return {"item": item, "level": STOCK[item]}


@app.post("/stock/{item}/reserve")
def reserve(item: str):
    if STOCK.get(item, 0) < 1:
        raise RuntimeError(f"{item} is out of stock")
    STOCK[item] -= 1
    return {"item": item, "level": STOCK[item]}
