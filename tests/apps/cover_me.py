"""Calls a few functions of transparent.py, for a coverage tool to measure."""

import transparent

print(transparent.square(3), transparent.Shape().area(), list(transparent.countdown(2)))
