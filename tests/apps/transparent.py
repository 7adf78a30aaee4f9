"""Functions whose behaviour a program can observe; tests/test_transparency.py times them."""

import sys
import warnings


def square(x):
    return x * x


squared = square  # an alias, as libraries keep old names


def caller():
    return sys._getframe(1).f_code.co_name


def deprecated():
    warnings.warn("deprecated, use square", DeprecationWarning, stacklevel=2)
    return 1


def countdown(n):
    while n:
        yield n
        n -= 1


async def fetch(x):
    return x


async def ticks(n):
    for i in range(n):
        yield i


class Grumpy(Exception):
    """An exception whose message cannot be read."""

    reads = 0

    def __str__(self):
        Grumpy.reads += 1
        raise SystemExit("from Grumpy.__str__")


def grumpy():
    raise Grumpy()


class Shape:
    def area(self):
        return 4

    @staticmethod
    def unit():
        return 1

    @classmethod
    def make(cls):
        return cls()

    def __eq__(self, other):
        return type(other) is Shape

    __hash__ = object.__hash__


class Converter:
    """A callable object, like click.INT: not a function, so not a target."""

    def __call__(self, value):
        return int(value)


INT = Converter()


def nap(seconds):
    """Sleeps; under gevent, other green threads run meanwhile."""
    import time

    time.sleep(seconds)
    return seconds
