"""CMS as Fiks IO uses it: EnvelopedData (RSAES-OAEP + AES-256-CBC) and a detached,
CAdES-style SignedData over the ASiC-E manifest.

KS's libraries encrypt each package as CMS EnvelopedData: a fresh AES-256 key
encrypts the content in CBC mode, and RSAES-OAEP (SHA-256, MGF1 with SHA-256)
encrypts that key to the recipient's certificate. `cryptography` builds CMS only
with PKCS#1 v1.5 key transport, so the structures here are built and parsed with
`asn1crypto`, and every cryptographic operation is `cryptography`'s own (AES-CBC,
PKCS#7 padding, RSA-OAEP, RSA PKCS#1 v1.5 signatures): no cipher is written here.

Reading is strict, because a one-byte change anywhere must be refused: the DER must
re-encode to exactly the bytes given, versions and algorithms must be the expected
ones, and a package that is not encrypted to the key at hand says so.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Sequence

from asn1crypto import algos, cms, core, tsp  # tsp registers signing_certificate_v2
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP, PKCS1v15
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_ = tsp  # imported for the attribute types it registers in asn1crypto.cms


class PackageError(ValueError):
    """A package or signature that must be refused; the message is one line."""


def _oaep() -> OAEP:
    return OAEP(mgf=MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _issuer_serial(cert: x509.Certificate) -> cms.IssuerAndSerialNumber:
    parsed = asn1_x509.Certificate.load(_der(cert))
    return cms.IssuerAndSerialNumber(
        {"issuer": parsed.issuer, "serial_number": parsed.serial_number}
    )


def _strict(kind: type[core.Asn1Value], data: bytes, what: str) -> core.Asn1Value:
    """Parse DER and insist that it re-encodes to the very same bytes."""
    try:
        value = kind.load(data, strict=True)
        again = value.dump(force=True)
        _ = value.native  # parses every nested value now, not lazily later
    except Exception as exc:  # a damaged structure may fail in any way inside the parser
        raise PackageError(f"{what} is not valid DER ({_short(exc)})") from None
    if again != data:
        raise PackageError(f"{what} is not in canonical DER: it was changed or badly made")
    return value


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160] or type(exc).__name__


# -- EnvelopedData ----------------------------------------------------------------
def encrypt(content: bytes, recipient: x509.Certificate) -> bytes:
    """`content` as CMS EnvelopedData (DER) for `recipient`, with KS's parameters."""
    key, iv = os.urandom(32), os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(content) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    public = recipient.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise PackageError("the recipient's certificate has no RSA key")
    oaep_params = algos.RSAESOAEPParams(
        {
            "hash_algorithm": {"algorithm": "sha256"},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
        }
    )
    recipient_info = cms.KeyTransRecipientInfo(
        {
            "version": "v0",
            "rid": cms.RecipientIdentifier(
                name="issuer_and_serial_number", value=_issuer_serial(recipient)
            ),
            "key_encryption_algorithm": {"algorithm": "rsaes_oaep", "parameters": oaep_params},
            "encrypted_key": public.encrypt(key, _oaep()),
        }
    )
    enveloped = cms.EnvelopedData(
        {
            "version": "v0",
            "recipient_infos": [cms.RecipientInfo(name="ktri", value=recipient_info)],
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": {
                    "algorithm": "aes256_cbc",
                    "parameters": core.OctetString(iv),
                },
                "encrypted_content": ciphertext,
            },
        }
    )
    info = cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped})
    return bytes(info.dump())


def decrypt(data: bytes, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bytes:
    """The content of a CMS EnvelopedData encrypted to `cert`'s key, or PackageError."""
    info = _strict(cms.ContentInfo, data, "the package")
    if info["content_type"].native != "enveloped_data":
        raise PackageError(
            f"the package is CMS {info['content_type'].native}, not EnvelopedData: "
            "it was not encrypted"
        )
    env = info["content"]
    if env["version"].native not in ("v0", "v2"):
        raise PackageError(f"the package's EnvelopedData has version {env['version'].native}")
    mine = _issuer_serial(cert).dump()
    ktri = None
    for ri in env["recipient_infos"]:
        by_serial = ri.name == "ktri" and ri.chosen["rid"].name == "issuer_and_serial_number"
        if by_serial and ri.chosen["rid"].chosen.dump() == mine:
            ktri = ri.chosen
    if ktri is None:
        serials = [
            hex(ri.chosen["rid"].chosen["serial_number"].native)
            for ri in env["recipient_infos"]
            if ri.name == "ktri" and ri.chosen["rid"].name == "issuer_and_serial_number"
        ]
        raise PackageError(
            "the package is not encrypted to this account's key (it is for the certificate "
            f"with serial {', '.join(serials) or 'none'}; this account's is "
            f"{hex(cert.serial_number)})"
        )
    if ktri["version"].native != "v0":
        raise PackageError(f"the recipient info has version {ktri['version'].native}, not v0")
    alg = ktri["key_encryption_algorithm"]
    params = alg["parameters"]
    if (
        alg["algorithm"].native != "rsaes_oaep"
        or params["hash_algorithm"]["algorithm"].native != "sha256"
        or params["mask_gen_algorithm"]["parameters"]["algorithm"].native != "sha256"
    ):
        raise PackageError(
            "the content key is not encrypted with RSAES-OAEP (SHA-256, MGF1-SHA-256), "
            "as Fiks IO encrypts it"
        )
    try:
        content_key = key.decrypt(ktri["encrypted_key"].native, _oaep())
    except ValueError:
        raise PackageError(
            "the content key does not decrypt with this account's private key"
        ) from None
    eci = env["encrypted_content_info"]
    if eci["content_type"].native != "data":
        raise PackageError(f"the encrypted content is typed {eci['content_type'].native}, not data")
    calg = eci["content_encryption_algorithm"]
    if calg["algorithm"].native != "aes256_cbc" or len(content_key) != 32:
        raise PackageError("the content is not encrypted with AES-256-CBC, as Fiks IO encrypts it")
    iv = calg["parameters"].native
    ciphertext = eci["encrypted_content"].native
    if not isinstance(iv, bytes) or len(iv) != 16 or not ciphertext or len(ciphertext) % 16:
        raise PackageError("the encrypted content or its IV has the wrong length")
    decryptor = Cipher(algorithms.AES(content_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise PackageError("the decrypted content has bad padding: it was changed") from None


# -- detached SignedData (CAdES-BES shape) ------------------------------------------
def sign_detached(content: bytes, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bytes:
    """A detached CMS signature over `content`, with the signed attributes CAdES-BES
    asks for: content type, message digest, signing time and signing-certificate-v2."""
    cert_der = _der(cert)
    attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["data"]},
            {"type": "message_digest", "values": [hashlib.sha256(content).digest()]},
            {
                "type": "signing_time",
                "values": [cms.Time(name="utc_time", value=dt.datetime.now(dt.UTC))],
            },
            {
                "type": "signing_certificate_v2",
                "values": [{"certs": [{"cert_hash": hashlib.sha256(cert_der).digest()}]}],
            },
        ]
    )
    signature = key.sign(attrs.dump(), PKCS1v15(), hashes.SHA256())
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number", value=_issuer_serial(cert)
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": attrs,
            "signature_algorithm": {"algorithm": "sha256_rsa"},
            "signature": signature,
        }
    )
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "data"},
            "certificates": [asn1_x509.Certificate.load(cert_der)],
            "signer_infos": [signer],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump())


def verify_detached(
    signature: bytes, content: bytes, trusted: Sequence[x509.Certificate]
) -> x509.Certificate:
    """The signer's certificate, if `signature` is a valid detached CMS signature over
    `content` by a certificate that is, or is issued by, one of `trusted`."""
    info = _strict(cms.ContentInfo, signature, "the signature")
    if info["content_type"].native != "signed_data":
        raise PackageError("the signature file is not CMS SignedData")
    signed = info["content"]
    if signed["encap_content_info"]["content"].native is not None:
        raise PackageError("the signature is not detached: it carries content of its own")
    signers = list(signed["signer_infos"])
    if len(signers) != 1:
        raise PackageError(f"the signature has {len(signers)} signers, not one")
    signer = signers[0]
    sid = signer["sid"]
    certs = (
        [c.chosen.dump() for c in signed["certificates"] if c.name == "certificate"]
        if signed["certificates"].native is not None
        else []
    )
    cert = next(
        (
            x509.load_der_x509_certificate(der)
            for der in certs
            if sid.name == "issuer_and_serial_number"
            and _issuer_serial(x509.load_der_x509_certificate(der)).dump() == sid.chosen.dump()
        ),
        None,
    )
    if cert is None:
        raise PackageError("the signature does not carry the certificate that signed it")
    attrs = signer["signed_attrs"]
    if not attrs.native:
        raise PackageError("the signature has no signed attributes (CAdES requires them)")
    found = {a["type"].native: a["values"] for a in attrs}
    digest = found.get("message_digest")
    if signer["digest_algorithm"]["algorithm"].native != "sha256" or digest is None:
        raise PackageError("the signature is not a SHA-256 signature with a message digest")
    if digest[0].native != hashlib.sha256(content).digest():
        raise PackageError("the signature is over other content: the manifest was changed")
    ess = found.get("signing_certificate_v2")
    if ess is not None:
        hashes_given = [c["cert_hash"].native for c in ess[0]["certs"]]
        if hashlib.sha256(_der(cert)).digest() not in hashes_given:
            raise PackageError("the signing-certificate attribute names another certificate")
    public = cert.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise PackageError("the signer's certificate has no RSA key")
    # The signature is over the attributes' DER with the SET OF tag, not the [0] that
    # tags them inside SignerInfo (RFC 5652 §5.4).
    signed_bytes = b"\x31" + attrs.dump()[1:]
    try:
        public.verify(signer["signature"].native, signed_bytes, PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise PackageError("the signature does not verify: the package was changed") from None
    if not _trusted(cert, trusted):
        raise PackageError(
            f"the package is signed by {cert.subject.rfc4514_string()}, whom this run "
            "does not trust"
        )
    return cert


def _trusted(cert: x509.Certificate, trusted: Sequence[x509.Certificate]) -> bool:
    for anchor in trusted:
        if _der(anchor) == _der(cert):
            return True
        if anchor.subject == cert.issuer:
            try:
                cert.verify_directly_issued_by(anchor)
                return True
            except (ValueError, TypeError, InvalidSignature):
                continue
    return False
