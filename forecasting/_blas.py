"""Run the many tiny statsmodels fits with single-threaded OpenBLAS.

Each ETS / Theta fit does thousands of BLAS calls on vectors of a few elements. With OpenBLAS'
default thread pool, every call wakes the pool, and on a busy 2-core machine a 2 ms fit took
10-40 ms. threadpoolctl would do this; it is not a dependency, so this module calls the thread
setters OpenBLAS exports (numpy's and scipy's bundled copies) directly, best effort: if a
library or symbol is not found, nothing happens.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager

_SETTERS = (
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
)


def _openblas_controls() -> list[tuple[object, object]]:
    controls = []
    try:
        with open(f"/proc/{os.getpid()}/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return controls
    for path in sorted(paths):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for setter, getter in _SETTERS:
            if hasattr(library, setter) and hasattr(library, getter):
                controls.append((getattr(library, setter), getattr(library, getter)))
                break
    return controls


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit the loaded OpenBLAS libraries to one thread, restoring their setting after."""
    controls = _openblas_controls()
    previous = [getter() for _, getter in controls]
    for setter, _ in controls:
        setter(1)
    try:
        yield
    finally:
        for (setter, _), threads in zip(controls, previous, strict=True):
            setter(threads)
