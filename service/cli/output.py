"""Shared helpers of the CLI commands: settings, JSON or text output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from service.errors import CommandError
from service.settings import Settings

__all__ = ["CommandError", "emit", "load_settings", "positive_int"]


def load_settings() -> Settings:
    return Settings.from_env(os.environ)


def emit(payload: Any, *, as_json: bool, text: str) -> None:
    if as_json:
        json.dump(payload, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(text)


def positive_int(text: str) -> int:
    """An argparse type: a whole number above zero."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value
