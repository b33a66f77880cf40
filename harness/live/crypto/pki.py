"""A test PKI for the local Fiks IO: every key and certificate a run needs, made fresh.

Fiks IO's clients cannot be switched to plain messages: a vendor's service decrypts
each package with its account's private key, checks the sender's signature, and
encrypts `feilet` replies to the portal's public key; KS's Java client also insists
on TLS to the broker. So the harness makes, per run or once into a folder:

- a test CA (for the broker's TLS and for every certificate below);
- a server certificate for 127.0.0.1 / localhost (the broker's AMQP TLS port);
- the vendor **account**'s key pair and certificate (packages are encrypted to it);
- the **portal**'s key pair and signing certificate (packages are signed with it,
  and `feilet` replies are encrypted to it).

Every subject says it is for tests; nothing here is or resembles a real
virksomhetssertifikat. Keys are RSA 2048 (what Fiks IO's certificates use).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

FOR_TESTS = "harness test PKI - for tests only, never for production"
KEYSTORE_PASSWORD = "harness-test"  # the PKCS#12 files' password: a test secret, said openly
VALID = dt.timedelta(days=30)


@dataclass(frozen=True)
class Identity:
    """One key pair with its certificate."""

    name: str
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class KeySet:
    ca: Identity
    broker: Identity  # TLS server certificate for 127.0.0.1 and localhost
    account: Identity  # the vendor's Fiks IO account: packages are encrypted to it
    portal: Identity  # signs packages; `feilet` replies are encrypted to it

    def write(self, directory: Path) -> list[Path]:
        """Write every file into `directory` (private keys readable by the owner only)."""
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for ident in (self.ca, self.broker, self.account, self.portal):
            cert = directory / f"{ident.name}.pem"
            cert.write_bytes(ident.cert_pem())
            key = directory / f"{ident.name}-key.pem"
            _write_private(key, ident.key_pem())
            written += [cert, key]
        for ident in (self.account, self.portal):
            bundle = directory / f"{ident.name}.p12"
            _write_private(bundle, self.pkcs12(ident))
            written.append(bundle)
        readme = directory / "README.txt"
        readme.write_text(readme_text(), encoding="utf-8")
        written.append(readme)
        return written

    def write_for_service(self, directory: Path) -> list[Path]:
        """What a service holds, and no more: its account's key and keystore, and the
        certificates (portal, CA, broker). No private key of the portal or the CA."""
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for ident in (self.ca, self.broker, self.account, self.portal):
            cert = directory / f"{ident.name}.pem"
            cert.write_bytes(ident.cert_pem())
            written.append(cert)
        key = directory / "account-key.pem"
        _write_private(key, self.account.key_pem())
        bundle = directory / "account.p12"
        _write_private(bundle, self.pkcs12(self.account))
        return [*written, key, bundle]

    def pkcs12(self, ident: Identity) -> bytes:
        """The identity as a PKCS#12 keystore (Java reads these natively; .NET too)."""
        return pkcs12.serialize_key_and_certificates(
            ident.name.encode(),
            ident.key,
            ident.certificate,
            [self.ca.certificate],
            serialization.BestAvailableEncryption(KEYSTORE_PASSWORD.encode()),
        )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, FOR_TESTS),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _issue(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: Identity | None,
    *,
    ca: bool = False,
    server: bool = False,
    usage: str = "",
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    signer_key = key if issuer is None else issuer.key
    issuer_name = _name(subject) if issuer is None else issuer.certificate.subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALID)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
    elif server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(IPv4Address("127.0.0.1")),
                    x509.IPAddress(IPv6Address("::1")),
                ]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        sign = usage in ("sign", "both")
        encrypt = usage in ("encrypt", "both")
        builder = builder.add_extension(
            x509.KeyUsage(sign, sign, encrypt, False, False, False, False, False, False),
            critical=True,
        )
    return builder.sign(signer_key, hashes.SHA256())


def make_pki() -> KeySet:
    """A fresh PKI: four RSA keys, about a quarter of a second."""
    ca_key = _key()
    ca = Identity("ca", ca_key, _issue("harness test CA", ca_key, None, ca=True))
    broker_key, account_key, portal_key = _key(), _key(), _key()
    return KeySet(
        ca,
        Identity("broker", broker_key, _issue("127.0.0.1", broker_key, ca, server=True)),
        # The account's key both decrypts packages and signs the service's replies.
        Identity(
            "account", account_key, _issue("vendor account (test)", account_key, ca, usage="both")
        ),
        Identity("portal", portal_key, _issue("portal (test)", portal_key, ca, usage="both")),
    )


def load_pki(directory: Path) -> KeySet:
    """A PKI written by `write` (`harness fiksio keys DIR`)."""
    idents = []
    for name in ("ca", "broker", "account", "portal"):
        try:
            cert = x509.load_pem_x509_certificate((directory / f"{name}.pem").read_bytes())
            key = serialization.load_pem_private_key(
                (directory / f"{name}-key.pem").read_bytes(), password=None
            )
        except (OSError, ValueError) as exc:
            from harness.errors import UsageError

            raise UsageError(
                f"{directory} is not a test PKI folder ({name}: {exc}); make one with "
                "`harness fiksio keys DIR`"
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            from harness.errors import UsageError

            raise UsageError(f"{directory}/{name}-key.pem is not an RSA key")
        idents.append(Identity(name, key, cert))
    return KeySet(*idents)


def readme_text() -> str:
    return f"""{FOR_TESTS}

Made by `harness fiksio keys`. Every certificate is issued by ca.pem, a CA that
exists only in this folder, and is valid for {VALID.days} days.

  ca.pem            the test CA: trust it for the broker's TLS
  broker.pem        TLS server certificate for 127.0.0.1, ::1 and localhost
  account.pem/.p12  the vendor account's certificate and key: packages are
                    encrypted to it; the service signs its replies with it
  portal.pem/.p12   the portal's certificate and key: packages are signed with
                    it; `feilet` replies are encrypted to it
  *-key.pem         private keys (PKCS#8 PEM, unencrypted, mode 0600)

The .p12 files are PKCS#12 keystores with the password "{KEYSTORE_PASSWORD}".

Java (KS's fiks-io-klient-java):
  # trust the test CA for the broker's TLS (the client always uses TLS)
  keytool -importcert -noprompt -alias harness-test-ca -file ca.pem \\
          -keystore harness-truststore.p12 -storetype PKCS12 -storepass {KEYSTORE_PASSWORD}
  java -Djavax.net.ssl.trustStore=harness-truststore.p12 \\
       -Djavax.net.ssl.trustStorePassword={KEYSTORE_PASSWORD} ...
  # the account's keystore for VirksomhetssertifikatKonfigurasjon / KontoKonfigurasjon:
  #   account.p12, type PKCS12, alias "account", password "{KEYSTORE_PASSWORD}"
  # a JKS instead, if your configuration insists on one:
  keytool -importkeystore -srckeystore account.p12 -srcstoretype PKCS12 \\
          -srcstorepass {KEYSTORE_PASSWORD} -destkeystore account.jks \\
          -deststoretype JKS -deststorepass {KEYSTORE_PASSWORD}

.NET (KS's fiks-io-client-dotnet): load account-key.pem as the account's private
key and account.p12 (X509Certificate2) as the signing certificate; trust ca.pem
or set the AmqpConfiguration's SslOption to accept this CA.
"""
