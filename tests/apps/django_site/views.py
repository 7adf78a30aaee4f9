"""Views of every kind: function, class-based, async, streamed, failing."""

import asyncio
import os
import time

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseServerError,
    JsonResponse,
    StreamingHttpResponse,
)
from django.views import View


def list_users(request):
    return JsonResponse({"users": ["ada", "grace"], "pid": os.getpid()})


def user_detail(request, pk):
    return JsonResponse({"id": pk})


def archive(request, year):
    return HttpResponse(f"archive {year}")


def unnamed(request):
    return HttpResponse("unnamed")


def hello(request):
    return HttpResponse("hello", status=202)


def health(request):
    return HttpResponse("ok")


class ItemsView(View):
    def get(self, request):
        return HttpResponse("items")

    def post(self, request):
        return HttpResponse("created", status=201)


class LegacyView(View):
    def get(self, request, slug):
        return HttpResponse(f"legacy {slug}")


async def slow_async(request):
    await asyncio.sleep(0.05)
    return HttpResponse("slept")


class AsyncItemsView(View):
    async def get(self, request):
        await asyncio.sleep(0)
        return HttpResponse("async items")


def missing(request):
    raise Http404("no such user")


def forbidden(request):
    raise PermissionDenied("not yours")


def suspicious(request):
    raise SuspiciousOperation("odd request")


def fail(request):
    raise RuntimeError("database is down")


async def fail_async(request):
    await asyncio.sleep(0)
    raise ValueError("bad input")


def handled(request):
    raise KeyError("turned into a response")


def server_error(request):
    return HttpResponseServerError("broken")


def unavailable(request):
    return HttpResponse("later", status=503)


def _chunks(fail=False):
    for i in range(3):
        time.sleep(0.03)
        if fail and i == 1:
            raise RuntimeError("broken mid-stream")
        yield f"{i}\n"


async def _async_chunks():
    for i in range(3):
        await asyncio.sleep(0.03)
        yield f"{i}\n"


def stream(request):
    return StreamingHttpResponse(_chunks())


def stream_fail(request):
    return StreamingHttpResponse(_chunks(fail=True))


async def stream_async(request):
    return StreamingHttpResponse(_async_chunks(), status=206)


def download(request):
    return FileResponse(open(__file__, "rb"))
