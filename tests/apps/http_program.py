"""Sends HTTP requests with one client library and prints what the program sees of them.

Usage: http_program.py LIBRARY PLAIN_PORT TLS_PORT CA_FILE REFUSED_PORT UNANSWERED_PORT,
against tests/test_http_clients.py's server (plain and TLS, its test CA in CA_FILE; a
connection to UNANSWERED_PORT is never accepted). Run
bare and through riemann-run, it must print the same. Secrets are planted in the
path, query, user info, headers and body: none may reach an event.
"""

import asyncio
import ssl
import sys

LIBRARY, PLAIN, TLS, CA, REFUSED, UNANSWERED = sys.argv[1:]
SECRET_PATH = "/ok/hunter2-path?token=hunter2-query"
HEADERS = {"Authorization": "Bearer hunter2-header", "X-Api-Key": "hunter2-header"}
BODY = b"password=hunter2-body"
BASE = f"http://127.0.0.1:{PLAIN}"
USERINFO = f"http://alice:hunter2-password@127.0.0.1:{PLAIN}"
TRUSTED = ssl.create_default_context(cafile=CA)


def show(what, outcome):
    print(what, outcome)


def failure(exc):
    return type(exc).__name__


def with_urllib3():
    import urllib3

    pool = urllib3.PoolManager(ssl_context=TRUSTED)
    show("secret", pool.request("GET", USERINFO + SECRET_PATH, headers=HEADERS).status)
    show("missing", pool.request("POST", BASE + "/missing", body=BODY, headers=HEADERS).status)
    show("boom", pool.request("GET", BASE + "/boom").status)
    show("tls", pool.request("GET", f"https://localhost:{TLS}/ok").data)
    untrusting = urllib3.PoolManager(retries=False)
    for what, url, timeout in (
        ("untrusted", f"https://localhost:{TLS}/ok", None),
        ("refused", f"http://127.0.0.1:{REFUSED}/hunter2-path", None),
        ("timeout", BASE + "/slow", 0.3),
    ):
        try:
            untrusting.request("GET", url, timeout=timeout)
        except Exception as exc:
            show(what, failure(exc))
    retry = urllib3.Retry(total=2, status_forcelist=[503], raise_on_status=False)
    show("retried", pool.request("GET", BASE + "/busy", retries=retry).status)
    try:
        pool.request("GET", f"http://127.0.0.1:{REFUSED}/", retries=urllib3.Retry(connect=1))
    except Exception as exc:
        show("refused twice", failure(exc))
    streamed = pool.request("GET", BASE + "/ok", preload_content=False)
    show("streamed", streamed.status)
    streamed.release_conn()


def with_requests():
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3 import Retry

    session = requests.Session()
    secret = session.get(USERINFO + SECRET_PATH, headers=HEADERS)
    show("secret", (secret.status_code, secret.text))
    show("missing", session.post(BASE + "/missing", data=BODY, headers=HEADERS).status_code)
    show("boom", session.get(BASE + "/boom").status_code)
    show("tls", session.get(f"https://localhost:{TLS}/ok", verify=CA).text)
    for what, url, kwargs in (
        ("untrusted", f"https://localhost:{TLS}/ok", {"verify": True}),
        ("refused", f"http://127.0.0.1:{REFUSED}/hunter2-path", {}),
        ("timeout", BASE + "/slow", {"timeout": 0.3}),
    ):
        try:
            session.get(url, **kwargs)
        except Exception as exc:
            show(what, (failure(exc), "hunter2-path" in str(exc)))
    retry = Retry(total=2, status_forcelist=[503], raise_on_status=False)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    show("retried", session.get(BASE + "/busy").status_code)
    with session.get(BASE + "/ok", stream=True) as streamed:
        show("streamed", streamed.status_code)


def with_urllib():
    import urllib.error
    import urllib.request

    request = urllib.request.Request(BASE + SECRET_PATH, headers=HEADERS)
    show("secret", urllib.request.urlopen(request).read())
    try:
        urllib.request.urlopen(urllib.request.Request(BASE + "/missing", BODY, HEADERS))
    except urllib.error.HTTPError as exc:
        show("missing", exc.code)
    try:
        urllib.request.urlopen(BASE + "/boom")
    except urllib.error.HTTPError as exc:
        show("boom", exc.code)
    show("tls", urllib.request.urlopen(f"https://localhost:{TLS}/ok", context=TRUSTED).read())
    for what, url, timeout in (
        ("untrusted", f"https://localhost:{TLS}/ok", None),
        ("refused", f"http://127.0.0.1:{REFUSED}/hunter2-path", None),
        ("timeout", BASE + "/slow", 0.3),
    ):
        try:
            urllib.request.urlopen(url, timeout=timeout)
        except Exception as exc:
            show(what, failure(exc))


def with_httpx():
    import httpx

    with httpx.Client(verify=TRUSTED) as client:
        secret = client.get(USERINFO + SECRET_PATH, headers=HEADERS)
        show("secret", (secret.status_code, secret.text))
        show("missing", client.post(BASE + "/missing", content=BODY, headers=HEADERS).status_code)
        show("boom", client.get(BASE + "/boom").status_code)
        show("tls", client.get(f"https://localhost:{TLS}/ok").text)
    with httpx.Client() as client:
        for what, url, timeout in (
            ("untrusted", f"https://localhost:{TLS}/ok", None),
            ("refused", f"http://127.0.0.1:{REFUSED}/hunter2-path", None),
            ("timeout", BASE + "/slow", 0.3),
        ):
            try:
                client.get(url, timeout=timeout)
            except Exception as exc:
                show(what, failure(exc))

    async def run_async():
        async with httpx.AsyncClient(verify=TRUSTED) as client:
            show("async", (await client.get(BASE + SECRET_PATH, headers=HEADERS)).status_code)
            show("async missing", (await client.delete(BASE + "/missing")).status_code)
            try:
                await client.get(BASE + "/slow", timeout=0.3)
            except Exception as exc:
                show("async timeout", failure(exc))
            async with client.stream("GET", BASE + "/ok") as streamed:
                show("streamed", streamed.status_code)

    asyncio.run(run_async())


def with_aiohttp():
    import aiohttp

    async def run():
        async with aiohttp.ClientSession() as session:
            # Credentials in the URL and an Authorization header: aiohttp refuses both at once.
            secret_headers = {"X-Api-Key": "hunter2-header"}
            async with session.get(USERINFO + SECRET_PATH, headers=secret_headers) as secret:
                show("secret", (secret.status, await secret.text()))
            async with session.post(BASE + "/missing", data=BODY, headers=HEADERS) as missing:
                show("missing", missing.status)
            async with session.get(BASE + "/boom") as boom:
                show("boom", boom.status)
            async with session.get(f"https://localhost:{TLS}/ok", ssl=TRUSTED) as tls:
                show("tls", await tls.text())
            async with session.get(BASE + "/moved") as moved:  # two requests sent
                show("moved", (moved.status, len(moved.history)))
            try:  # raise_for_status: the 404 is still an answer
                await session.get(BASE + "/missing", raise_for_status=True)
            except aiohttp.ClientResponseError as exc:
                show("raised", (failure(exc), exc.status))
        async with aiohttp.ClientSession() as session:
            for what, url, timeout in (
                ("untrusted", f"https://localhost:{TLS}/ok", None),
                ("refused", f"http://127.0.0.1:{REFUSED}/hunter2-path", None),
                ("timeout", BASE + "/slow", aiohttp.ClientTimeout(sock_read=0.3)),
                ("total timeout", BASE + "/slow", aiohttp.ClientTimeout(total=0.3)),
                (
                    "connect timeout",
                    f"http://127.0.0.1:{UNANSWERED}/",
                    aiohttp.ClientTimeout(sock_connect=0.3),
                ),
            ):
                try:
                    async with session.get(url, timeout=timeout or aiohttp.ClientTimeout()):
                        pass
                except Exception as exc:
                    show(what, failure(exc))
            async with session.get(BASE + "/ok") as streamed:
                show("streamed", streamed.status)

    asyncio.run(run())


{
    "urllib3": with_urllib3,
    "requests": with_requests,
    "urllib": with_urllib,
    "httpx": with_httpx,
    "aiohttp": with_aiohttp,
}[LIBRARY]()
