"""The two ends of a Fiks IO exchange, each with the keys it holds in a test PKI.

The portal (the harness) seals each report for the vendor's account and opens the
service's `feilet` replies; a service in crypto mode opens what the portal sent and
seals its replies for the portal. Who trusts whom: everything is issued by the run's
test CA, and each end checks that the other signed what it opened.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

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
    """The service's end: its account's key, the account's and the portal's certificates."""

    def __init__(
        self,
        key: rsa.RSAPrivateKey,
        account: x509.Certificate,
        portal: x509.Certificate,
    ) -> None:
        self.key, self.account, self.portal = key, account, portal

    @classmethod
    def of(cls, pki: KeySet) -> Service:
        return cls(pki.account.key, pki.account.certificate, pki.portal.certificate)

    @classmethod
    def from_folder(cls, folder: Path) -> Service:
        """The keys a run hands a service (HARNESS_FIKSIO_KEYS)."""
        key = serialization.load_pem_private_key(
            (folder / "account-key.pem").read_bytes(), password=None
        )
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{folder}/account-key.pem is not an RSA key")
        load = x509.load_pem_x509_certificate
        return cls(
            key,
            load((folder / "account.pem").read_bytes()),
            load((folder / "portal.pem").read_bytes()),
        )

    def open(self, data: bytes) -> Opened:
        """A report from the portal: encrypted to the account, signed by the portal."""
        return open_package(data, self.key, self.account, [self.portal])

    def seal_reply(self, files: Mapping[str, bytes]) -> bytes:
        return seal(files, self.key, self.account, self.portal)
