"""The two ends of a Fiks IO exchange, each with the keys it holds in a test PKI.

The portal (the harness) seals each report for the vendor's account and opens the
service's `feilet` replies; a service in crypto mode opens what the portal sent and
seals its replies for the portal. Who trusts whom: everything is issued by the run's
test CA, and each end checks that the other signed what it opened.
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.live.crypto.asice import Opened, open_package, seal
from harness.live.crypto.pki import KeySet


class Portal:
    def __init__(self, pki: KeySet) -> None:
        self.pki = pki

    def seal_for_service(self, files: Mapping[str, bytes]) -> bytes:
        p = self.pki
        return seal(files, p.portal.key, p.portal.certificate, p.account.certificate)

    def open_reply(self, data: bytes) -> Opened:
        """A reply from the service: encrypted to the portal, signed by the account."""
        p = self.pki
        return open_package(data, p.portal.key, p.portal.certificate, [p.account.certificate])


class Service:
    def __init__(self, pki: KeySet) -> None:
        self.pki = pki

    def open(self, data: bytes) -> Opened:
        """A report from the portal: encrypted to the account, signed by the portal."""
        p = self.pki
        return open_package(data, p.account.key, p.account.certificate, [p.portal.certificate])

    def seal_reply(self, files: Mapping[str, bytes]) -> bytes:
        p = self.pki
        return seal(files, p.account.key, p.account.certificate, p.portal.certificate)
