"""The last known flags, in memory and on disk.

UnleashClient evaluates whatever this cache holds. Switchyard fetches the flags itself and
writes them here, so the state survives a restart while Unleash is down: a process that starts
without Unleash still routes from the flags it last saw.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from UnleashClient.cache import BaseCache
from UnleashClient.constants import ETAG, FEATURES_URL

__all__ = ["FlagCache"]


class FlagCache(BaseCache):
    """A ``BaseCache`` whose feature payload is also persisted to ``directory``."""

    def __init__(self, directory: Path | None) -> None:
        self._values: dict[str, Any] = {}
        self._file = directory / "features.json" if directory is not None else None
        if self._file is not None and self._file.exists():
            try:
                saved = json.loads(self._file.read_text())
                self._values[FEATURES_URL] = saved["features"]
                self._values[ETAG] = saved.get("etag", "")
            except (OSError, ValueError, KeyError):
                self._values.clear()

    @property
    def features(self) -> str | None:
        value = self._values.get(FEATURES_URL)
        return value if isinstance(value, str) and value else None

    def store(self, features: str, etag: str) -> None:
        """Keep a freshly fetched payload, in memory and atomically on disk."""
        self._values[FEATURES_URL] = features
        self._values[ETAG] = etag
        if self._file is None:
            return
        self._file.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=self._file.parent, prefix=".features-")
        with os.fdopen(handle, "w") as out:
            json.dump({"features": features, "etag": etag}, out)
        Path(temp).replace(self._file)

    def set(self, key: str, value: Any) -> None:
        self._values[key] = value

    def mset(self, data: dict[str, Any]) -> None:
        self._values.update(data)

    def get(self, key: str, default: Any | None = None) -> Any:
        return self._values.get(key, default)

    def exists(self, key: str) -> bool:
        return key in self._values

    def destroy(self) -> None:
        self._values.clear()
