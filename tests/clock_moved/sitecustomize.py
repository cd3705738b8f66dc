"""Loaded through PYTHONPATH by `make test-clock-moved` only, in every Python process.

The clock is moved with libfaketime and FAKETIME_DONT_FAKE_MONOTONIC=1 (a faked
monotonic clock makes every lock or Event wait with a timeout hang: glibc's
sem_clockwait is not intercepted). With the monotonic clock left alone,
libfaketime 0.9.10 still shifts the absolute CLOCK_MONOTONIC deadline that
time.sleep hands to clock_nanosleep by the fake wall time, and the call fails
with EINVAL. Waiting on an Event sleeps on the monotonic clock as well, and works.
"""

from __future__ import annotations

import threading
import time
from typing import SupportsIndex


def _sleep(seconds: float | SupportsIndex) -> None:
    length = float(seconds)
    if length < 0:
        raise ValueError("sleep length must be non-negative")
    threading.Event().wait(length)


time.sleep = _sleep
