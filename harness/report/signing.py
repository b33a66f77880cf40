"""Ed25519 signatures over a report's digest, with the `cryptography` package.

Keys are PEM files: the private key as PKCS#8 (what `harness keygen` and
`openssl genpkey -algorithm ed25519` write), the public key as SubjectPublicKeyInfo
(`openssl pkey -pubout`). An encrypted private key is read with the passphrase in
the environment variable HARNESS_SIGN_KEY_PASSPHRASE.

The signature is over the ASCII bytes of the report's `digest` string
(`sha256:<hex>`), so anyone can check it without the harness, e.g. with OpenSSL.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.errors import UsageError

ALGORITHM = "ed25519"
PASSPHRASE_ENV = "HARNESS_SIGN_KEY_PASSPHRASE"
PRIVATE_NAME, PUBLIC_NAME = "harness-signing-key.pem", "harness-signing-key.pub.pem"


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(public: Ed25519PublicKey) -> str:
    """sha256 over the 32 raw bytes of the public key: a short name for a key."""
    return "sha256:" + hashlib.sha256(_raw(public)).hexdigest()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _read(path: Path, what: str, flag: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"{flag} {str(path)!r}: cannot read the {what} ({exc.strerror}); "
            "create a key pair with `harness keygen DIR`"
        ) from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    data = _read(path, "private key", "--sign-key")
    passphrase = os.environ.get(PASSPHRASE_ENV)
    try:
        key = serialization.load_pem_private_key(
            data, password=passphrase.encode() if passphrase else None
        )
    except TypeError:
        raise UsageError(
            f"--sign-key {str(path)!r} is encrypted: put its passphrase in {PASSPHRASE_ENV}"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise UsageError(
            f"--sign-key {str(path)!r} is not a PEM private key ({_one_line(exc)}); give the "
            f"{PRIVATE_NAME} that `harness keygen DIR` writes"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(
            f"--sign-key {str(path)!r} is a {type(key).__name__.lstrip('_')}, not an Ed25519 "
            "key; create one with `harness keygen DIR`"
        )
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    data = _read(path, "public key", "--public-key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise UsageError(
            f"--public-key {str(path)!r} is not a PEM public key ({_one_line(exc)}); give the "
            f"{PUBLIC_NAME} the report's author published"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"--public-key {str(path)!r} is not an Ed25519 public key")
    return key


def sign(digest: str, key: Ed25519PrivateKey) -> dict[str, str]:
    """The report's `signature` object."""
    public = key.public_key()
    return {
        "algorithm": ALGORITHM,
        "public_key": base64.b64encode(_raw(public)).decode(),
        "fingerprint": fingerprint(public),
        "value": base64.b64encode(key.sign(digest.encode("ascii"))).decode(),
    }


def check(digest: str, signature: Any, trusted: Ed25519PublicKey | None) -> list[str]:
    """Problems with a report's signature; checked against `trusted` when given."""
    if not isinstance(signature, dict) or signature.get("algorithm") != ALGORITHM:
        return [f"the signature is not an {ALGORITHM} signature object"]
    try:
        embedded = Ed25519PublicKey.from_public_bytes(base64.b64decode(signature["public_key"]))
        value = base64.b64decode(signature["value"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        return [f"the signature object is malformed ({exc})"]
    if signature.get("fingerprint") != fingerprint(embedded):
        return ["the signature's fingerprint does not match its public key"]
    if trusted is not None and _raw(trusted) != _raw(embedded):
        return [
            f"signed by key {fingerprint(embedded)}, not by the --public-key given "
            f"({fingerprint(trusted)})"
        ]
    try:
        embedded.verify(value, digest.encode("ascii"))
    except (InvalidSignature, UnicodeEncodeError):
        return ["the signature does not match the digest: the report was changed after signing"]
    return []


def keygen(directory: Path) -> tuple[Path, Path]:
    """Write a new key pair; never overwrite one."""
    private, public = directory / PRIVATE_NAME, directory / PUBLIC_NAME
    for path in (private, public):
        if path.exists():
            raise UsageError(
                f"{str(path)!r} already exists; keygen never overwrites a key: "
                "choose another DIR or move the old key away"
            )
    directory.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public
