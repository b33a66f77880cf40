"""Process isolation: the adapter runs in processes of its own, the verdict stays here.

`--isolation process` runs each incarnation of the adapter in a child forked from a
template that imported the target once (proxy.py, server.py); `inprocess` runs it in
the harness's own interpreter, for speed in a developer's inner loop. A report says
which (report.json `isolation`): only a process-isolated run's verdict is one the
adapter's code could not reach.
"""

from __future__ import annotations

PROCESS, INPROCESS = "process", "inprocess"
MODES = (PROCESS, INPROCESS)

__all__ = ["INPROCESS", "MODES", "PROCESS"]
