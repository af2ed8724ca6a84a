"""A thin async client for the parts of Unleash's admin API that Switchyard uses.

It accepts an admin API token or a personal access token (both go in ``Authorization``).
Every failure is one of :mod:`flags.errors`, with the URL and status in the message; the token
never is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from flags.errors import UnleashApiError, UnleashAuthError, UnleashUnreachable
from flags.secret import Secret

__all__ = ["Json", "UnleashAdmin"]

Json = dict[str, Any]


class UnleashAdmin:
    """Admin API calls scoped to one project and one environment."""

    def __init__(
        self,
        *,
        base_url: str,
        token: Secret,
        project: str,
        environment: str,
        http: httpx.AsyncClient,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.project = project
        self.environment = environment
        self._token = token
        self._http = http

    # --- transport ---------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        params: Mapping[str, str | int] | None = None,
        allow: tuple[int, ...] = (),
    ) -> httpx.Response:
        url = f"{self.base_url}{path}"
        try:
            response = await self._http.request(
                method,
                url,
                json=json,
                params=params,
                headers={"Authorization": self._token.reveal()},
            )
        except httpx.TransportError as error:
            raise UnleashUnreachable(self.base_url, type(error).__name__) from None
        if response.status_code in (401, 403):
            raise UnleashAuthError(self.base_url, response.status_code)
        if response.status_code in allow:
            return response
        if response.status_code >= 300:
            raise UnleashApiError(method, path, response.status_code, response.text)
        return response

    def _feature_path(self, feature: str) -> str:
        return f"/api/admin/projects/{quote(self.project)}/features/{quote(feature)}"

    def _env_path(self, feature: str) -> str:
        return f"{self._feature_path(feature)}/environments/{quote(self.environment)}"

    # --- context fields ----------------------------------------------------------------------

    async def get_context_field(self, name: str) -> Json | None:
        response = await self._request("GET", f"/api/admin/context/{quote(name)}", allow=(404,))
        return None if response.status_code == 404 else _json(response)

    async def create_context_field(self, field: Json) -> None:
        await self._request("POST", "/api/admin/context", json=field)

    # --- features ----------------------------------------------------------------------------

    async def get_feature(self, name: str) -> Json | None:
        response = await self._request("GET", self._feature_path(name), allow=(404,))
        return None if response.status_code == 404 else _json(response)

    async def create_feature(self, *, name: str, kind: str, description: str) -> None:
        await self._request(
            "POST",
            f"/api/admin/projects/{quote(self.project)}/features",
            json={"name": name, "type": kind, "description": description},
        )

    async def is_enabled(self, feature: str) -> bool:
        found = await self.get_feature(feature)
        if found is None:
            return False
        for environment in found.get("environments", []):
            if environment.get("name") == self.environment:
                return bool(environment.get("enabled"))
        return False

    async def set_enabled(self, feature: str, enabled: bool) -> None:
        action = "on" if enabled else "off"
        await self._request("POST", f"{self._env_path(feature)}/{action}")

    async def strategies(self, feature: str) -> list[Json]:
        response = await self._request("GET", f"{self._env_path(feature)}/strategies")
        body = response.json()
        return list(body) if isinstance(body, list) else []

    async def add_strategy(self, feature: str, strategy: Json) -> Json:
        response = await self._request(
            "POST", f"{self._env_path(feature)}/strategies", json=strategy
        )
        return _json(response)

    async def update_strategy(self, feature: str, strategy_id: str, strategy: Json) -> Json:
        response = await self._request(
            "PUT", f"{self._env_path(feature)}/strategies/{quote(strategy_id)}", json=strategy
        )
        return _json(response)

    # --- addons ------------------------------------------------------------------------------

    async def addons(self) -> list[Json]:
        response = await self._request("GET", "/api/admin/addons")
        return list(_json(response).get("addons", []))

    async def create_addon(self, addon: Json) -> Json:
        return _json(await self._request("POST", "/api/admin/addons", json=addon))

    async def update_addon(self, addon_id: int, addon: Json) -> None:
        await self._request("PUT", f"/api/admin/addons/{addon_id}", json=addon)

    async def delete_addon(self, addon_id: int) -> None:
        await self._request("DELETE", f"/api/admin/addons/{addon_id}")

    # --- events ------------------------------------------------------------------------------

    async def events(
        self, *, features: list[str], limit: int = 100, offset: int = 0
    ) -> tuple[list[Json], int]:
        """Unleash's event log for ``features``, newest first, and the total count."""
        response = await self._request(
            "GET",
            "/api/admin/search/events",
            params={
                "feature": "IS_ANY_OF:" + ",".join(features),
                "limit": limit,
                "offset": offset,
            },
        )
        body = _json(response)
        return list(body.get("events", [])), int(body.get("total", 0))

    async def health(self) -> bool:
        try:
            response = await self._http.get(f"{self.base_url}/health")
        except httpx.TransportError:
            return False
        return response.status_code == 200


def _json(response: httpx.Response) -> Json:
    if not response.content:
        return {}
    body = response.json()
    return body if isinstance(body, dict) else {"items": body}
