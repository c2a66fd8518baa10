"""Run one benchmark job in a fresh Python process and return its (picklable) result.

Each sampler's "first run" is then what a user sees on a new process: every compilation its run
needs, including the eager operations of NumPyro's model trace, and nothing the other sampler
compiled before it (in one process, whichever ran first paid for what both use). The time is
measured inside the job, so the process start and imports are not counted.
"""
import multiprocessing
from concurrent.futures import ProcessPoolExecutor


def in_fresh_process(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` in a new spawned process (``fn`` importable by name)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as ex:
        return ex.submit(fn, *args, **kwargs).result()
