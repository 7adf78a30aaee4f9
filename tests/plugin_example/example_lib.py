"""The library the example instrumentor instruments."""


def greet(name: str) -> str:
    return f"hello {name}"
