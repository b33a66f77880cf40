"""The twin of `module_global_store.py` with its one line fixed: the factory wires in
the database. It imports everything else from the module beside it, as a vendor's
package would, so the harness copies that module afresh for each incarnation too."""

from __future__ import annotations

from module_global_store import RepositoryCaseSystem, SqlRepository

from harness import CaseSystemEnv

EXPECTS: set[str] = set()


def make_case_system(env: CaseSystemEnv) -> RepositoryCaseSystem:
    return RepositoryCaseSystem(SqlRepository(env.storage))
