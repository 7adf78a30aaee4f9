"""Backoff: how long the sender leaves Riemann alone after a failure."""

from __future__ import annotations

import time

import pytest

from riemann_auto.delivery.backoff import Backoff


def test_a_new_backoff_lets_the_sender_try_at_once():
    backoff = Backoff()
    assert backoff.delay == 0.0
    assert not backoff.waiting(time.monotonic())


def test_the_first_failure_waits_a_tenth_of_a_second():
    backoff = Backoff()
    before = time.monotonic()
    backoff.failed()
    assert backoff.delay == 0.1
    assert before + 0.1 <= backoff.until <= time.monotonic() + 0.1


def test_each_failure_doubles_the_wait_up_to_two_seconds():
    backoff = Backoff()
    delays = []
    for _ in range(7):
        backoff.failed()
        delays.append(backoff.delay)
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0])


def test_the_sender_waits_until_the_delay_has_passed_and_not_after():
    backoff = Backoff()
    backoff.failed()
    assert backoff.waiting(backoff.until - 0.05)
    assert not backoff.waiting(backoff.until)
    assert not backoff.waiting(backoff.until + 0.05)


def test_a_success_ends_the_wait_and_the_next_failure_starts_over():
    backoff = Backoff()
    for _ in range(4):
        backoff.failed()
    backoff.succeeded()
    assert (backoff.delay, backoff.until) == (0.0, 0.0)
    assert not backoff.waiting(time.monotonic())
    backoff.failed()
    assert backoff.delay == 0.1
