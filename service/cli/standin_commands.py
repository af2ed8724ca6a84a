"""``switchyard github-standin``: a local stand-in for GitHub's REST API (development only)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from flags.secret import Secret
from service.devtools.github_standin.serve import serve_standin
from service.github.api.hooks import HookRef, parse_hook
from service.settings import SettingsError

__all__ = ["register"]


def _hook(text: str) -> tuple[HookRef, str]:
    spec, sep, url = text.partition("=")
    if not sep or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected HOOK=URL, got {text!r}")
    try:
        return parse_hook(spec), url
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _pem(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot read {path!r}: {error}") from None


async def _run(args: argparse.Namespace) -> int:
    raw = os.environ.get("SWITCHYARD_WEBHOOK_SECRET", "")
    if not raw:
        raise SettingsError("SWITCHYARD_WEBHOOK_SECRET", "signs the stand-in's deliveries; not set")
    token = os.environ.get("SWITCHYARD_GITHUB_TOKEN", "")
    await serve_standin(
        host=args.host,
        port=args.port,
        hooks=args.hook,
        secret=Secret(raw),
        tokens=[Secret(token)] if token else [],
        app_id=args.app_id,
        app_public_key=args.app_public_key_file,
        installation_ids=args.installation_id,
    )
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "github-standin",
        help="serve a local stand-in for GitHub's REST API (hook deliveries, App tokens)",
        description="Deliveries are signed with SWITCHYARD_WEBHOOK_SECRET; the token in "
        "SWITCHYARD_GITHUB_TOKEN (if set) is accepted; an App is accepted with --app-id and "
        "the public half of its key. See docs/github-standin.md.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument(
        "--hook",
        type=_hook,
        action="append",
        default=[],
        metavar="HOOK=URL",
        help="a webhook and its receiver, e.g. repos/acme/app/hooks/1=http://127.0.0.1:8080/"
        "webhooks/github (repeatable)",
    )
    parser.add_argument("--app-id", help="the App id whose JWTs are accepted")
    parser.add_argument(
        "--app-public-key-file", type=_pem, help="a file with the PEM public key of that App"
    )
    parser.add_argument(
        "--installation-id", type=int, action="append", default=[], help="(repeatable)"
    )
    parser.set_defaults(handler=_run)
