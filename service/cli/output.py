"""Shared helpers of the CLI commands: settings, JSON or text output."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from service.settings import Settings

__all__ = ["CommandError", "emit", "load_settings"]


class CommandError(RuntimeError):
    """The command ran but could not do what was asked (exit code 1)."""


def load_settings() -> Settings:
    return Settings.from_env(os.environ)


def emit(payload: Any, *, as_json: bool, text: str) -> None:
    if as_json:
        json.dump(payload, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(text)
