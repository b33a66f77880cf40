"""`harness fiksio keys DIR` and `harness fiksio config --lang java|dotnet`.

Imported when the command line is parsed: nothing heavy at the top.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.errors import UsageError


def add_fiksio_commands(sub: Any) -> None:
    fiksio = sub.add_parser("fiksio", help="the local Fiks IO's test keys and client configuration")
    inner = fiksio.add_subparsers(dest="fiksio_command", required=True)
    keys = inner.add_parser(
        "keys", help="write a test PKI (CA, broker TLS, account and portal keys) into DIR"
    )
    keys.add_argument("directory", type=Path, metavar="DIR")
    keys.add_argument("--force", action="store_true", help="replace the files in DIR")
    keys.set_defaults(handler=_keys)
    config = inner.add_parser(
        "config",
        help="write the settings that point KS's Java or .NET client at the local Fiks IO",
    )
    config.add_argument("--lang", choices=("java", "dotnet"), required=True)
    config.add_argument(
        "--out",
        type=Path,
        default=Path("harness-report"),
        metavar="DIR",
        help="where the snippet goes (default harness-report)",
    )
    config.add_argument(
        "--keys",
        default="harness-keys",
        metavar="DIR",
        help="the folder `harness fiksio keys` wrote (named in the snippet)",
    )
    config.add_argument("--api-port", default="<HTTP_PORT>", metavar="PORT")
    config.add_argument("--amqps-port", default="<AMQPS_PORT>", metavar="PORT")
    config.add_argument("--account", default="<ACCOUNT_ID>", metavar="UUID")
    config.set_defaults(handler=_config)


def _keys(args: argparse.Namespace) -> int:
    from harness.live.crypto.pki import make_pki
    from harness.report.folder import check_writable_folder

    directory: Path = args.directory
    check_writable_folder(directory, "DIR", "harness-keys")
    taken = sorted(p.name for p in directory.glob("*.pem")) if directory.is_dir() else []
    if taken and not args.force:
        raise UsageError(
            f"{directory} already holds keys ({', '.join(taken[:3])}…); give an empty "
            "folder, or --force to replace them"
        )
    written = make_pki().write(directory)
    print(f"wrote a test PKI to {directory}: {', '.join(p.name for p in written)}")
    print("for tests only; see README.txt there for the Java truststore and keystore")
    return 0


def _config(args: argparse.Namespace) -> int:
    from harness.live.ks_clients import FILE_NAMES, Endpoints, snippet
    from harness.report.folder import check_writable_folder

    out: Path = args.out
    check_writable_folder(out, "--out")
    endpoints = Endpoints(
        api_port=args.api_port,
        amqp_tls_port=args.amqps_port,
        account_id=args.account,
        keys=args.keys,
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / FILE_NAMES[args.lang]
    path.write_text(snippet(args.lang, endpoints), encoding="utf-8")
    print(f"wrote {path}: the settings for KS's {args.lang} client (configuration only)")
    return 0
