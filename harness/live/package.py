"""The message body: a zip in the ASiC-E layout, without the crypto (plain mode).

`mimetype` first and stored uncompressed, then the report's files, then a manifest
naming them. Every entry has the same fixed timestamp, so the same files always
make the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Mapping

MIMETYPE = "application/vnd.etsi.asic-e+zip"
_STAMP = (2023, 6, 1, 0, 0, 0)


def _entry(name: str, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, _STAMP)
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    return info


def pack(files: Mapping[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(_entry("mimetype", zipfile.ZIP_STORED), MIMETYPE)
        for name in sorted(files):
            z.writestr(_entry(name, zipfile.ZIP_DEFLATED), files[name])
        refs = "".join(
            f'<DataObjectReference URI="{name}" MimeType="application/octet-stream">'
            f"<DigestValue>{hashlib.sha256(files[name]).hexdigest()}</DigestValue>"
            "</DataObjectReference>"
            for name in sorted(files)
        )
        manifest = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<ASiCManifest xmlns="http://uri.etsi.org/02918/v1.2.1#">'
            f"{refs}</ASiCManifest>"
        )
        z.writestr(_entry("META-INF/ASiCManifest.xml", zipfile.ZIP_DEFLATED), manifest)
    return buf.getvalue()


def unpack(body: bytes) -> dict[str, bytes]:
    """The files of a package (the manifest and mimetype left out)."""
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        return {
            n: z.read(n) for n in z.namelist() if n != "mimetype" and not n.startswith("META-INF/")
        }
