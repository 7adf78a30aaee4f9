"""Prints, as JSON, what a program can see of the functions in transparent.py.

tests/test_transparency.py runs it bare and through riemann-run with those
functions as targets, and compares the two outputs.
"""

import asyncio
import concurrent.futures
import copy
import inspect
import multiprocessing
import pickle
import re
import types
import warnings

import transparent
from transparent import Grumpy, Shape, countdown, square


def shown(value):
    return re.sub(r"0x[0-9a-f]+", "0x?", repr(value))


def outcome(call):
    try:
        return ["ok", shown(call())]
    except BaseException as exc:  # what escapes is what is compared
        return [type(exc).__name__, exc.args and str(exc.args[0])]


def pools():
    results = {}
    for method in ("fork", "spawn"):
        context = multiprocessing.get_context(method)
        with context.Pool(2) as pool:
            results[f"pool {method}"] = pool.map(square, range(5))
            pool.close()  # workers that leave by themselves flush; terminated ones die
            pool.join()
        with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as executor:
            results[f"executor {method}"] = executor.submit(square, 7).result()
            results[f"executor {method} method"] = executor.submit(Shape.area, Shape()).result()
    return results


def main():
    seen = {}
    seen["pickle"] = {
        "function": outcome(lambda: pickle.loads(pickle.dumps(square)) is square),
        "bytes": outcome(lambda: pickle.dumps(square).hex()),
        "method": outcome(lambda: pickle.loads(pickle.dumps(Shape.area)) is Shape.area),
        "bound": outcome(lambda: pickle.loads(pickle.dumps(Shape().area))()),
        "static": outcome(lambda: pickle.loads(pickle.dumps(Shape.unit)) is Shape.unit),
        "class method": outcome(lambda: pickle.loads(pickle.dumps(Shape.make))()),
        "holder": outcome(lambda: pickle.loads(pickle.dumps({"f": square}))["f"](3)),
    }
    seen["copy"] = {
        "copy": outcome(lambda: copy.copy(square) is square),
        "deepcopy": outcome(lambda: copy.deepcopy(square) is square),
        "deepcopy holder": outcome(lambda: copy.deepcopy([square])[0] is square),
        "bound": outcome(lambda: copy.deepcopy(Shape().area)()),
    }
    seen["identity"] = {
        "method": Shape.area is Shape.area,
        "raw": Shape.__dict__["area"] is Shape.area,
        "static": Shape.unit is Shape.unit,
        "module": transparent.square is square,
        "alias": transparent.squared is square,
    }
    seen["repr"] = [shown(f) for f in (square, Shape.area, Shape().area, Shape.unit, Shape.make)]
    seen["introspection"] = {
        "name": [square.__name__, square.__qualname__, square.__module__, square.__doc__],
        "signature": str(inspect.signature(countdown)),
        "generator function": inspect.isgeneratorfunction(countdown),
        "coroutine function": inspect.iscoroutinefunction(transparent.fetch),
        "async generator function": inspect.isasyncgenfunction(transparent.ticks),
        "is function": isinstance(square, types.FunctionType),
    }
    seen["type"] = shown(type(square))
    seen["caller frame"] = transparent.caller()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        transparent.deprecated()
    seen["warning location"] = [
        (w.filename.rsplit("/", 1)[-1], w.lineno, str(w.message)) for w in caught
    ]
    seen["generator arguments"] = outcome(lambda: countdown())
    gen = countdown(3)
    seen["generator"] = {
        "names": [gen.__name__, gen.__qualname__],
        "type": type(gen) is types.GeneratorType and inspect.isgenerator(gen),
        "items": list(gen),
    }
    seen["generator code"] = countdown(1).gi_code.co_name
    coro = transparent.fetch(5)
    seen["coroutine"] = [coro.__qualname__, inspect.iscoroutine(coro), asyncio.run(coro)]
    seen["coroutine arguments"] = outcome(lambda: transparent.fetch())

    async def drain():
        return [i async for i in transparent.ticks(3)]

    seen["async generator"] = asyncio.run(drain())
    seen["grumpy"] = outcome(transparent.grumpy)
    seen["grumpy reads"] = Grumpy.reads
    seen["converter"] = [transparent.INT("42"), shown(transparent.INT)]
    seen["pools"] = pools()
    print(__import__("json").dumps(seen, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
