"""ASiC-E containers as Fiks IO sends them, sealed and opened.

A container is a zip: `mimetype` first and stored, the files, `META-INF/ASiCManifest.xml`
listing each file with its SHA-256, and `META-INF/signature.p7s`, a detached CMS
signature over the manifest. Sealed, the whole zip is CMS EnvelopedData for the
recipient (cms.py). Opening checks everything, in this order, and refuses with one
line: the CMS layer, the zip (CRCs, and every local header against the central
directory), the manifest (each file listed once with its digest, nothing unlisted),
and the signature (over the manifest, by a trusted certificate).
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from harness.live.crypto.cms import PackageError, decrypt, encrypt, sign_detached, verify_detached

MIMETYPE = "application/vnd.etsi.asic-e+zip"
MANIFEST = "META-INF/ASiCManifest.xml"
SIGNATURE = "META-INF/signature.p7s"
ASIC_NS = "http://uri.etsi.org/02918/v1.2.1#"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
SHA256_URI = "http://www.w3.org/2001/04/xmlenc#sha256"
MAX_FILES = 64
MAX_BYTES = 64 * 1024 * 1024  # unpacked: a container over this is refused, not unpacked
_MIME_BY_SUFFIX = {".json": "application/json", ".pdf": "application/pdf"}
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the same bytes for the same files: replayable


@dataclass(frozen=True)
class Opened:
    files: dict[str, bytes]  # the data files, without mimetype and META-INF
    signer: x509.Certificate


def _manifest(files: Mapping[str, bytes]) -> bytes:
    ET.register_namespace("asic", ASIC_NS)
    ET.register_namespace("ds", DS_NS)
    root = ET.Element(f"{{{ASIC_NS}}}ASiCManifest")
    ET.SubElement(
        root,
        f"{{{ASIC_NS}}}SigReference",
        {"URI": SIGNATURE, "MimeType": "application/x-pkcs7-signature"},
    )
    for name in sorted(files):
        suffix = name[name.rfind(".") :] if "." in name else ""
        ref = ET.SubElement(
            root,
            f"{{{ASIC_NS}}}DataObjectReference",
            {"URI": name, "MimeType": _MIME_BY_SUFFIX.get(suffix, "application/octet-stream")},
        )
        ET.SubElement(ref, f"{{{DS_NS}}}DigestMethod", {"Algorithm": SHA256_URI})
        value = ET.SubElement(ref, f"{{{DS_NS}}}DigestValue")
        value.text = base64.b64encode(hashlib.sha256(files[name]).digest()).decode()
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml


def build(files: Mapping[str, bytes], key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bytes:
    """The unencrypted ASiC-E zip of `files`, signed with `key`."""
    for name in files:
        if name in ("mimetype", MANIFEST, SIGNATURE) or not _safe_name(name):
            raise ValueError(f"{name!r} cannot be a file of a package")
    manifest = _manifest(files)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype", _FIXED_TIME), MIMETYPE, zipfile.ZIP_STORED)
        for name in sorted(files):
            z.writestr(zipfile.ZipInfo(name, _FIXED_TIME), files[name], zipfile.ZIP_DEFLATED)
        z.writestr(zipfile.ZipInfo(MANIFEST, _FIXED_TIME), manifest, zipfile.ZIP_DEFLATED)
        signature = sign_detached(manifest, key, cert)
        z.writestr(zipfile.ZipInfo(SIGNATURE, _FIXED_TIME), signature, zipfile.ZIP_STORED)
    return out.getvalue()


def seal(
    files: Mapping[str, bytes],
    signer_key: rsa.RSAPrivateKey,
    signer_cert: x509.Certificate,
    recipient: x509.Certificate,
) -> bytes:
    """Build, sign and encrypt: a package as a Fiks IO client sends it."""
    return encrypt(build(files, signer_key, signer_cert), recipient)


def open_package(
    data: bytes,
    key: rsa.RSAPrivateKey,
    cert: x509.Certificate,
    trusted: Sequence[x509.Certificate],
) -> Opened:
    """Decrypt and check a package, or raise PackageError with one line saying why."""
    return _refusing(lambda: read(decrypt(data, key, cert), trusted))


def _refusing(check: Callable[[], Opened]) -> Opened:
    """Whatever a damaged package makes a parser raise is a refusal, never a crash."""
    try:
        return check()
    except PackageError:
        raise
    except Exception as exc:
        raise PackageError(
            f"the package is malformed ({type(exc).__name__}: {' '.join(str(exc).split())[:120]})"
        ) from None


def _safe_name(name: str) -> bool:
    return (
        bool(name)
        and not name.startswith("/")
        and ".." not in name.split("/")
        and ("\\" not in name)
    )


def _zip_entries(container: bytes) -> dict[str, bytes]:
    try:
        z = zipfile.ZipFile(io.BytesIO(container))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise PackageError(f"the decrypted package is not a zip ({exc})") from None
    with z:
        infos = z.infolist()
        if len(infos) > MAX_FILES:
            raise PackageError(f"the package holds {len(infos)} files; at most {MAX_FILES}")
        if sum(i.file_size for i in infos) > MAX_BYTES:
            raise PackageError("the package unpacks to more than 64 MiB: refused")
        if z.comment:
            raise PackageError("the package's zip has a comment: it was changed")
        out: dict[str, bytes] = {}
        for info in infos:
            if not _safe_name(info.filename) or info.filename in out:
                raise PackageError(f"the package has a bad or repeated name {info.filename!r}")
            _same_header(container, info)
            try:
                out[info.filename] = z.read(info)
            except (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error) as exc:
                raise PackageError(
                    f"{info.filename} in the package is damaged ({' '.join(str(exc).split())})"
                ) from None
        if infos and infos[0].filename != "mimetype":
            raise PackageError("the package's first entry is not `mimetype`")
    return out


def _same_header(container: bytes, info: zipfile.ZipInfo) -> None:
    """A local file header must say what the central directory says of it."""
    at = info.header_offset
    head = container[at : at + 30]
    if len(head) < 30 or head[:4] != b"PK\x03\x04":
        raise PackageError(f"{info.filename}: its local header is damaged")
    fields = (
        int.from_bytes(head[4:6], "little"),  # version needed to extract
        int.from_bytes(head[6:8], "little"),  # flags
        int.from_bytes(head[8:10], "little"),  # method
        int.from_bytes(head[10:12], "little"),  # time
        int.from_bytes(head[12:14], "little"),  # date
    )
    dos_time = info.date_time[3] << 11 | info.date_time[4] << 5 | info.date_time[5] // 2
    dos_date = (info.date_time[0] - 1980) << 9 | info.date_time[1] << 5 | info.date_time[2]
    if fields != (info.extract_version, info.flag_bits, info.compress_type, dos_time, dos_date):
        raise PackageError(f"{info.filename}: its local header disagrees with the directory")
    if not info.flag_bits & 0x08:  # sizes and CRC are in the local header too
        local = (
            int.from_bytes(head[14:18], "little"),
            int.from_bytes(head[18:22], "little"),
            int.from_bytes(head[22:26], "little"),
        )
        if local != (info.CRC, info.compress_size, info.file_size):
            raise PackageError(f"{info.filename}: its local header disagrees with the directory")
    if int.from_bytes(head[28:30], "little") != len(info.extra) or info.comment:
        raise PackageError(f"{info.filename}: unexpected extra data in the zip")


def _listed(manifest: bytes) -> dict[str, str]:
    if b"<!DOCTYPE" in manifest or b"<!ENTITY" in manifest:
        raise PackageError("the manifest declares a DOCTYPE or entities: refused")
    try:
        root = ET.fromstring(manifest)
    except ET.ParseError as exc:
        raise PackageError(f"the manifest is not XML ({exc})") from None
    if root.tag != f"{{{ASIC_NS}}}ASiCManifest":
        raise PackageError("the manifest is not an ASiCManifest")
    sig_refs = [e.get("URI") for e in root.findall(f"{{{ASIC_NS}}}SigReference")]
    if sig_refs != [SIGNATURE]:
        raise PackageError(f"the manifest does not point at {SIGNATURE}")
    listed: dict[str, str] = {}
    for ref in root.findall(f"{{{ASIC_NS}}}DataObjectReference"):
        uri = ref.get("URI") or ""
        method = ref.find(f"{{{DS_NS}}}DigestMethod")
        value = ref.find(f"{{{DS_NS}}}DigestValue")
        if method is None or method.get("Algorithm") != SHA256_URI or value is None:
            raise PackageError(f"the manifest's entry for {uri!r} has no SHA-256 digest")
        if uri in listed:
            raise PackageError(f"the manifest lists {uri!r} twice")
        listed[uri] = (value.text or "").strip()
    return listed


def read(container: bytes, trusted: Sequence[x509.Certificate]) -> Opened:
    """Check an unencrypted ASiC-E container and return its data files."""
    return _refusing(lambda: _read(container, trusted))


def _read(container: bytes, trusted: Sequence[x509.Certificate]) -> Opened:
    entries = _zip_entries(container)
    if entries.get("mimetype") != MIMETYPE.encode():
        raise PackageError(f"the package's mimetype is not {MIMETYPE}")
    manifest, signature = entries.get(MANIFEST), entries.get(SIGNATURE)
    if signature is None:
        raise PackageError(f"the package is not signed: it has no {SIGNATURE}")
    if manifest is None:
        raise PackageError(f"the package has no {MANIFEST} for its signature to cover")
    signer = verify_detached(signature, manifest, trusted)
    listed = _listed(manifest)
    files = {n: b for n, b in entries.items() if n != "mimetype" and not n.startswith("META-INF/")}
    for name, data in files.items():
        digest = listed.pop(name, None)
        if digest is None:
            raise PackageError(f"{name} is in the package but not in its signed manifest")
        if base64.b64encode(hashlib.sha256(data).digest()).decode() != digest:
            raise PackageError(f"{name} does not match its digest in the signed manifest")
    if listed:
        raise PackageError(f"the manifest lists {', '.join(sorted(listed))}, which is missing")
    return Opened(files, signer)


__all__ = ["Opened", "PackageError", "build", "open_package", "read", "seal"]
