"""Pausing Python's cyclic garbage collector around a batch computation (ADR 0024).

CPython frees almost everything by reference counting; the cyclic collector exists for objects
that refer to each other in a loop. It runs whenever enough objects have been allocated, and a
full pass visits every object the process holds. A payment run allocates millions of small,
acyclic objects (claims, tallies, lines) and keeps hundreds of thousands alive at once, so
the collector ran dozens of full passes for almost nothing: measured over a national month in
one process, 3.4 s of 19.5 s, for 4,635 objects of cyclic garbage in all (docs/performance.md).

`paused()` switches automatic collection off for the duration and back on afterwards, only
if it was on. Nothing is lost: what is left in cycles is collected by the first automatic
pass after. It is process-wide (Python has one collector), so use it only around work that
does not run for long alongside other threads' work.
"""

import contextlib
import gc


@contextlib.contextmanager
def paused():
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
