"""Annotations that name what is defined later: deferred since Python 3.14 (PEP 649)."""


def convert(value: Later, strict: bool = False) -> Later:  # noqa: F821
    return value
