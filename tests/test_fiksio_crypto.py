"""Fiks IO's encryption: ASiC-E in CMS with KS's parameters, checked against OpenSSL."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import stat
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest

from harness.cli import main
from harness.live.crypto.asice import MANIFEST, SIGNATURE, PackageError, build
from harness.live.crypto.cms import encrypt
from harness.live.crypto.pki import FOR_TESTS, KEYSTORE_PASSWORD, KeySet, make_pki
from harness.live.crypto.roles import Portal, Service
from harness.live.ks_clients import Endpoints, snippet

FILES = {
    "bekymringsmelding.json": json.dumps(
        {"melding": "Bekymring for barn i Årstad 🙂", "kommunenummer": "4601"}, ensure_ascii=False
    ).encode(),
    "bekymringsmelding.pdf": b"%PDF-1.4\n" + bytes(range(256)) * 4,
}
OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="no openssl command on PATH")


@pytest.fixture(scope="module")
def pki() -> KeySet:
    return make_pki()


@pytest.fixture(scope="module")
def keys(pki: KeySet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys")
    pki.write(folder)
    return folder


def openssl(*args: str) -> subprocess.CompletedProcess[bytes]:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *args], capture_output=True, timeout=60, check=False)


def openssl_opens(package: bytes, keys: Path, work: Path) -> dict[str, bytes] | None:
    """What a receiver built on OpenSSL makes of a package: decrypt with `openssl cms`,
    unpack (CRCs checked), verify the signature over the manifest with `openssl cms`,
    and compare each file with its manifest digest. None: refused somewhere."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "in.der").write_bytes(package)
    done = openssl(
        "cms",
        "-decrypt",
        "-inform",
        "DER",
        "-in",
        str(work / "in.der"),
        "-inkey",
        str(keys / "account-key.pem"),
        "-recip",
        str(keys / "account.pem"),
        "-out",
        str(work / "asic.zip"),
    )
    if done.returncode != 0:
        return None
    try:
        with zipfile.ZipFile(work / "asic.zip") as z:
            entries = {name: z.read(name) for name in z.namelist()}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError, zlib.error):
        return None
    if MANIFEST not in entries or SIGNATURE not in entries:
        return None
    (work / "manifest.xml").write_bytes(entries[MANIFEST])
    (work / "signature.p7s").write_bytes(entries[SIGNATURE])
    done = openssl(
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        str(work / "signature.p7s"),
        "-content",
        str(work / "manifest.xml"),
        "-CAfile",
        str(keys / "ca.pem"),
        "-purpose",
        "any",
        "-out",
        str(work / "verified"),
    )
    if done.returncode != 0:
        return None
    manifest = entries[MANIFEST].decode("utf-8", "replace")
    files = {n: b for n, b in entries.items() if n != "mimetype" and not n.startswith("META-INF")}
    for name, data in files.items():
        import base64

        want = base64.b64encode(hashlib.sha256(data).digest()).decode()
        if not re.search(
            rf'URI="{re.escape(name)}".*?<ds:DigestValue>{re.escape(want)}<', manifest, re.S
        ):
            return None
    return files


@needs_openssl
def test_openssl_decrypts_and_verifies_what_the_harness_seals(
    pki: KeySet, keys: Path, tmp_path: Path
) -> None:
    package = Portal(pki).seal_for_service(FILES)
    assert openssl_opens(package, keys, tmp_path) == FILES
    # and the CMS says what KS's libraries say: RSAES-OAEP with SHA-256, AES-256-CBC
    printed = openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", str(tmp_path / "in.der"))
    text = printed.stdout.decode()
    assert "rsaesOaep" in text and "sha256" in text and "aes-256-cbc" in text


@needs_openssl
def test_the_harness_opens_what_openssl_encrypts_and_signs_with_ks_parameters(
    pki: KeySet, keys: Path, tmp_path: Path
) -> None:
    zipped = build(FILES, pki.portal.key, pki.portal.certificate)
    with zipfile.ZipFile(io.BytesIO(zipped)) as z:
        manifest = z.read(MANIFEST)
    (tmp_path / "manifest.xml").write_bytes(manifest)
    signed = openssl(
        "cms",
        "-sign",
        "-binary",
        "-md",
        "sha256",
        "-outform",
        "DER",
        "-in",
        str(tmp_path / "manifest.xml"),
        "-signer",
        str(keys / "portal.pem"),
        "-inkey",
        str(keys / "portal-key.pem"),
        "-out",
        str(tmp_path / "sig.p7s"),
    )
    assert signed.returncode == 0, signed.stderr
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(zipped)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():  # the same container, with OpenSSL's signature in it
            data = (
                (tmp_path / "sig.p7s").read_bytes()
                if info.filename == SIGNATURE
                else (src.read(info))
            )
            dst.writestr(info, data)
    (tmp_path / "asic.zip").write_bytes(out.getvalue())
    done = openssl(
        "cms",
        "-encrypt",
        "-binary",
        "-aes-256-cbc",
        "-outform",
        "DER",
        "-in",
        str(tmp_path / "asic.zip"),
        "-out",
        str(tmp_path / "pkg.der"),
        "-recip",
        str(keys / "account.pem"),
        "-keyopt",
        "rsa_padding_mode:oaep",
        "-keyopt",
        "rsa_oaep_md:sha256",
        "-keyopt",
        "rsa_mgf1_md:sha256",
    )
    assert done.returncode == 0, done.stderr
    opened = Service.of(pki).open((tmp_path / "pkg.der").read_bytes())
    assert opened.files == FILES
    assert opened.signer == pki.portal.certificate


def flipped(data: bytes, at: int) -> bytes:
    changed = bytearray(data)
    changed[at] ^= 0x01
    return bytes(changed)


def test_a_one_byte_change_anywhere_is_refused_by_the_harness(pki: KeySet) -> None:
    package = Portal(pki).seal_for_service(FILES)
    service = Service.of(pki)
    assert service.open(package).files == FILES
    # every byte of the first 560 (the structure, the key transport, the IV) and of the
    # last 200 (the last blocks, the central directory), and every 11th byte between
    positions = sorted(
        {*range(560), *range(len(package) - 200, len(package)), *range(560, len(package), 11)}
    )
    accepted = []
    for at in positions:
        try:
            service.open(flipped(package, at))
            accepted.append(at)
        except PackageError:
            pass
    assert accepted == [], f"changed packages accepted at bytes {accepted[:10]}"


@needs_openssl
def test_a_one_byte_change_is_refused_by_an_openssl_receiver_too(
    pki: KeySet, keys: Path, tmp_path: Path
) -> None:
    package = Portal(pki).seal_for_service(FILES)
    n = len(package)
    # The structure, the encrypted key, and the content (a file's data: its CRC breaks).
    # Not the last blocks: AES-CBC has no MAC, so a change there leaves a zip directory
    # garbled in a way OpenSSL plus a lenient zip reader may accept (1 time in ~256,
    # seen); the harness checks the directory and refuses those too (test above).
    for at in (3, 40, 300, n // 3, n // 2, (2 * n) // 3):
        assert openssl_opens(flipped(package, at), keys, tmp_path / f"at-{at}") is None, at


def test_a_reply_for_the_wrong_key_or_unsigned_or_by_a_stranger_is_one_clear_line(
    pki: KeySet,
) -> None:
    portal, service, stranger = Portal(pki), Service.of(pki), make_pki()
    feilet = {"feilmelding.json": b'{"feilmelding": "lagring feilet"}'}
    assert portal.open_reply(service.seal_reply(feilet)).files == feilet
    cases = {
        "wrong key": (
            # sealed for the account instead of for the portal
            encrypt(
                build(feilet, pki.account.key, pki.account.certificate), pki.account.certificate
            ),
            "not encrypted to this account's key",
        ),
        "unsigned": (encrypt(_unsigned(feilet), pki.portal.certificate), "is not signed"),
        "stranger": (
            # signed by an account of another PKI, encrypted to this portal
            encrypt(
                build(feilet, stranger.account.key, stranger.account.certificate),
                pki.portal.certificate,
            ),
            "does not trust",
        ),
    }
    for name, (package, says) in cases.items():
        with pytest.raises(PackageError) as caught:
            portal.open_reply(package)
        message = str(caught.value)
        assert says in message, name
        assert "\n" not in message and len(message) < 300, name


def _unsigned(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("mimetype", "application/vnd.etsi.asic-e+zip")
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


def test_the_keys_folder_is_for_tests_and_private(tmp_path: Path) -> None:
    assert main(["fiksio", "keys", str(tmp_path / "keys")]) == 0
    folder = tmp_path / "keys"
    for key in folder.glob("*-key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key.name
    assert FOR_TESTS in (folder / "README.txt").read_text(encoding="utf-8")
    from cryptography import x509

    for name in ("ca", "broker", "account", "portal"):
        cert = x509.load_pem_x509_certificate((folder / f"{name}.pem").read_bytes())
        assert FOR_TESTS in cert.subject.rfc4514_string().replace("\\,", ",")
    broker = x509.load_pem_x509_certificate((folder / "broker.pem").read_bytes())
    names = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]
    assert main(["fiksio", "keys", str(folder)]) == 2  # never over existing keys unasked


@pytest.mark.skipif(shutil.which("keytool") is None, reason="no Java keytool on PATH")
def test_java_reads_the_account_keystore(tmp_path: Path) -> None:
    assert main(["fiksio", "keys", str(tmp_path)]) == 0
    listed = subprocess.run(
        [
            "keytool",
            "-list",
            "-keystore",
            str(tmp_path / "account.p12"),
            "-storetype",
            "PKCS12",
            "-storepass",
            KEYSTORE_PASSWORD,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert "PrivateKeyEntry" in listed.stdout


def _settings_in_fiksio_md() -> dict[str, list[str]]:
    notes = Path(__file__).resolve().parents[1].parent / "shared" / "FIKSIO.md"
    if not notes.is_file():
        pytest.skip("../shared/FIKSIO.md is not beside the checkout")
    text = notes.read_text(encoding="utf-8")
    out = {}
    for lang, label in (("java", "**Java:**"), ("dotnet", "**.NET:**")):
        line = next(
            ln
            for ln in text.splitlines()
            if (ln.startswith(f"- {label}") and "Konfigurasjon" in ln)
            or (ln.startswith(f"- {label}") and "Configuration(" in ln)
        )
        names = []
        for code in re.findall(r"`([^`]+)`", line):
            head = re.match(r"[A-Za-z]+(?:\.[A-Za-z]+)?", code)
            if head:
                names.append(head.group(0))
            inner = re.search(r"[({]([^)}]*)[)}]", code)
            if inner:
                names += [p.strip() for p in inner.group(1).split(",") if p.strip() != "…"]
        out[lang] = names
    return out


@pytest.mark.parametrize("lang", ["java", "dotnet"])
def test_each_snippet_names_every_setting_the_fiks_io_notes_list(lang: str, tmp_path: Path) -> None:
    wanted = _settings_in_fiksio_md()[lang]
    assert len(wanted) >= 8
    assert (
        main(
            [
                "fiksio",
                "config",
                "--lang",
                lang,
                "--out",
                str(tmp_path),
                "--api-port",
                "18080",
                "--amqps-port",
                "15671",
            ]
        )
        == 0
    )
    text = next(tmp_path.iterdir()).read_text(encoding="utf-8")
    missing = [w for w in wanted if w.split(".")[-1] not in text]
    assert missing == [], missing
    assert "18080" in text and "15671" in text and "Configuration only" in text
    assert snippet(lang, Endpoints()) != snippet(lang, Endpoints(api_port="1"))


def test_a_service_gets_its_own_key_and_no_other_private_key() -> None:
    from harness.live.crypto.mode import CryptoMode

    mode = CryptoMode()
    try:
        names = sorted(p.name for p in mode.folder.iterdir())
        assert [n for n in names if n.endswith("-key.pem")] == ["account-key.pem"]
        assert "portal.p12" not in names and "ca-key.pem" not in names
        assert stat.S_IMODE(mode.folder.stat().st_mode) == 0o700
        sealed = mode.seal(FILES)
        service = Service.from_folder(mode.folder)
        assert service.open(sealed).files == FILES
        assert mode.unreadable(service.seal_reply({"feilmelding.json": b"{}"})) is None
        wrong = encrypt(
            build({"feilmelding.json": b"{}"}, service.key, service.account), service.account
        )
        assert "not encrypted to this account's key" in (mode.unreadable(wrong) or "")
    finally:
        mode.close()
    assert not mode.folder.exists()


def test_crypto_mode_is_for_the_live_tier_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--fiksio-crypto", "on"]) == 2
    err = capsys.readouterr().err
    assert "--service" in err and len(err.strip().splitlines()) == 1
