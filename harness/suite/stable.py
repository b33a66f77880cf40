"""One seed, one search: keep Hypothesis from mixing in literals of whatever is imported.

Since 6.131 Hypothesis draws some values from the constants (numbers, strings) of
every *local* module in `sys.modules` (code outside site-packages: an editable
install of the harness, the vendor's adapter). Which modules happen to be
imported differs between `harness run`, pytest, a worker process and a merge, so
the same seed gave different examples there. The search runs with no local
constants; Hypothesis' own global constants stay. This touches a private part of
Hypothesis, so it does nothing where that part is absent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def without_local_constants() -> Iterator[None]:
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - another Hypothesis layout
        yield
        return
    module: Any = providers
    original = getattr(module, "_get_local_constants", None)
    constants = getattr(module, "Constants", None)
    cache: Any = getattr(getattr(module, "CONSTANTS_CACHE", None), "cache", None)
    if original is None or constants is None or not hasattr(cache, "clear"):
        yield  # pragma: no cover - a Hypothesis without local constants
        return
    empty = constants()
    module._get_local_constants = lambda: empty
    cache.clear()  # entries computed with local constants must not be reused
    try:
        yield
    finally:
        module._get_local_constants = original
        cache.clear()
