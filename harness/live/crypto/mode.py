"""Crypto mode of the live world: the run's keys, sealed reports, checked replies.

With `--fiksio-crypto on` a run makes a fresh test PKI in its own private folder,
hands the service a folder (`HARNESS_FIKSIO_KEYS`) with what a service holds and no
more (`account-key.pem`, `account.p12`, and the certificates `account.pem`,
`portal.pem`, `ca.pem`, `broker.pem`; no private key of the portal or the CA) and
`HARNESS_FIKSIO_CRYPTO=on`, seals every report as Fiks IO does (ASiC-E, signed by
the portal, encrypted to the account), and opens every reply that carries a package
(a `feilet` with its `feilmelding.json`): one the portal cannot decrypt or verify is
recorded as unreadable, a protocol failure the checker judges.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from harness.live.crypto.cms import PackageError
from harness.live.crypto.pki import KeySet, make_pki
from harness.live.crypto.roles import Portal

CRYPTO_ENV = "HARNESS_FIKSIO_CRYPTO"
KEYS_ENV = "HARNESS_FIKSIO_KEYS"


class CryptoMode:
    def __init__(self, pki: KeySet | None = None) -> None:
        self.pki = pki or make_pki()
        self.folder = Path(tempfile.mkdtemp(prefix="harness-fiksio-keys-"))  # mode 0700
        self.pki.write_for_service(self.folder)
        self._portal = Portal(self.pki)

    def env(self) -> dict[str, str]:
        return {CRYPTO_ENV: "on", KEYS_ENV: str(self.folder)}

    def seal(self, files: Mapping[str, bytes]) -> bytes:
        return self._portal.seal_for_service(files)

    def unreadable(self, data: bytes) -> str | None:
        """Why the portal cannot read this reply package, or None when it can."""
        try:
            self._portal.open_reply(data)
        except PackageError as exc:
            return str(exc)
        return None

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
