from __future__ import annotations

import time

import httpx
import jwt

from service.github.api.hooks import HookRef, parse_hook
from tests.standin import APP_ID, TOKEN, FakeTime, app_key, running_standin, token_credentials

HOOK = parse_hook("orgs/acme/hooks/7")
DOWN = "http://127.0.0.1:9/webhooks/github"
AUTH = {"Authorization": f"token {TOKEN}"}
FIELDS = {
    "id",
    "guid",
    "delivered_at",
    "redelivery",
    "duration",
    "status",
    "status_code",
    "event",
    "action",
    "installation_id",
    "repository_id",
    "throttled_at",
}


async def test_a_listing_has_githubs_shape_newest_first_with_a_link_to_the_next_page() -> None:
    async with running_standin() as (standin, api):
        standin.deliveries.add_hook(HOOK, url=DOWN, secret=token_credentials().token)
        payload = {"action": "labeled", "installation": {"id": 77}, "repository": {"id": 9}}
        for _ in range(3):
            await standin.deliveries.send(HOOK.spec, event="issues", payload=payload)
        first = await api.get(f"/{HOOK.path}/deliveries?per_page=2", headers=AUTH)
        assert first.status_code == 200
        items = first.json()
        assert [set(item) for item in items] == [FIELDS, FIELDS]
        assert items[0]["id"] > items[1]["id"]
        assert items[0]["delivered_at"].endswith("Z")
        assert (items[0]["action"], items[0]["installation_id"], items[0]["repository_id"]) == (
            "labeled",
            77,
            9,
        )
        assert items[0]["status_code"] == 0
        assert first.headers["X-RateLimit-Remaining"] == "4999"
        next_url = first.links["next"]["url"]
        assert "cursor=v1_" in next_url
        assert "per_page=2" in next_url
        last = await api.get(next_url, headers=AUTH)
        assert len(last.json()) == 1
        assert "link" not in last.headers


async def test_per_page_is_capped_at_100_and_filters_by_redelivery() -> None:
    async with running_standin() as (standin, api):
        standin.deliveries.add_hook(HOOK, url=DOWN, secret=token_credentials().token)
        attempt = await standin.deliveries.send(HOOK.spec, event="issues", payload={})
        await standin.deliveries.redeliver(HOOK.spec, attempt.id)
        url = f"/{HOOK.path}/deliveries"
        assert len((await api.get(f"{url}?per_page=500", headers=AUTH)).json()) == 2
        only = (await api.get(f"{url}?redelivery=true", headers=AUTH)).json()
        assert [item["redelivery"] for item in only] == [True]


async def test_bad_parameters_are_400_and_unknown_hooks_404() -> None:
    async with running_standin() as (standin, api):
        standin.deliveries.add_hook(HOOK, url=DOWN, secret=token_credentials().token)
        url = f"/{HOOK.path}/deliveries"
        for query in ("per_page=x", "per_page=0", "cursor=abc", "redelivery=maybe"):
            answer = await api.get(f"{url}?{query}", headers=AUTH)
            assert answer.status_code == 400, query
            assert "message" in answer.json()
        assert (await api.get("/orgs/acme/hooks/8/deliveries", headers=AUTH)).status_code == 404
        assert (await api.post(f"{url}/1/attempts", headers=AUTH)).status_code == 404


async def test_authentication_is_required_and_checked() -> None:
    async with running_standin() as (standin, api):
        standin.deliveries.add_hook(HOOK, url=DOWN, secret=token_credentials().token)
        url = f"/{HOOK.path}/deliveries"
        assert (await api.get(url)).json()["message"] == "Requires authentication"
        wrong = await api.get(url, headers={"Authorization": "token nope"})
        assert (wrong.status_code, wrong.json()["message"]) == (401, "Bad credentials")
        app_only = await api.get("/app/hook/deliveries", headers=AUTH)
        assert app_only.status_code == 401


async def test_a_redelivery_is_202_and_spam_is_422() -> None:
    async with running_standin() as (standin, api):
        standin.deliveries.add_hook(HOOK, url=DOWN, secret=token_credentials().token)
        standin.deliveries.redelivery_limit = 1
        attempt = await standin.deliveries.send(HOOK.spec, event="issues", payload={})
        url = f"/{HOOK.path}/deliveries/{attempt.id}/attempts"
        accepted = await api.post(url, headers=AUTH)
        assert (accepted.status_code, accepted.json()) == (202, {})
        spammed = await api.post(url, headers=AUTH)
        assert spammed.status_code == 422
        assert spammed.json()["message"] == "Validation Failed"


async def test_controls_send_deliveries_and_set_limits() -> None:
    clock = FakeTime()
    async with running_standin(clock=clock) as (standin, api):
        standin.deliveries.add_hook(HOOK, url=DOWN, secret=token_credentials().token)
        sent = await api.post(
            "/_standin/deliveries",
            json={"hook": HOOK.spec, "event": "issues", "payload": {}, "guid": "g-1"},
        )
        assert (sent.status_code, sent.json()["guid"]) == (201, "g-1")
        assert (await api.post("/_standin/deliveries", content=b"[")).status_code == 400
        hooks = (await api.get("/_standin/hooks")).json()
        assert hooks[HOOK.spec]["failed"] == 1
        limits = await api.post("/_standin/limits", json={"secondary_limit": 1})
        assert limits.json()["secondary_limit"] == 1
        assert (await api.post("/_standin/limits", json={"nope": 1})).status_code == 400
        url = f"/{HOOK.path}/deliveries"
        assert (await api.get(url, headers=AUTH)).status_code == 200
        refused = await api.get(url, headers=AUTH)
        assert (refused.status_code, refused.headers["Retry-After"]) == (403, "60")
        assert "secondary rate limit" in refused.json()["message"]
        clock.advance(61)
        assert (await api.get(url, headers=AUTH)).status_code == 200


def _bearer(app_id: str, private_pem: str) -> dict[str, str]:
    now = int(time.time()) - 60
    token = jwt.encode({"iat": now, "exp": now + 540, "iss": app_id}, private_pem, "RS256")
    return {"Authorization": f"Bearer {token}"}


async def test_each_apps_jwt_reaches_its_own_hook_with_its_own_limits() -> None:
    gated = {"101": app_key("legacy"), "202": app_key("new")}
    apps = {app_id: key.public_pem for app_id, key in gated.items()}
    async with running_standin(apps=apps) as (standin, api):
        standin.deliveries.redelivery_limit = 1
        for app_id, system in (("101", "typescript"), ("202", "python")):
            hook = HookRef.gated_app(system)
            standin.deliveries.add_hook(
                hook, url=DOWN, secret=token_credentials().token, app_id=int(app_id)
            )
        legacy, new = (
            _bearer("101", gated["101"].private_pem),
            _bearer("202", gated["202"].private_pem),
        )
        sent = [
            await standin.deliveries.send("app:typescript", event="issues", payload={}),
            await standin.deliveries.send("app:python", event="ping", payload={}),
        ]
        listed = {
            app: [d["guid"] for d in (await api.get("/app/hook/deliveries", headers=auth)).json()]
            for app, auth in (("101", legacy), ("202", new))
        }
        assert listed == {"101": [sent[0].guid], "202": [sent[1].guid]}
        answer = await api.get("/app/hook/deliveries", headers=new)
        assert answer.headers["X-RateLimit-Used"] == "2"  # python's App: its own count
        other_apps = await api.post(f"/app/hook/deliveries/{sent[1].id}/attempts", headers=legacy)
        assert other_apps.status_code == 404  # not a delivery of that App's hook
        for auth, attempt in ((legacy, sent[0]), (new, sent[1])):
            url = f"/app/hook/deliveries/{attempt.id}/attempts"
            assert (await api.post(url, headers=auth)).status_code == 202
        assert (
            await api.post(f"/app/hook/deliveries/{sent[0].id}/attempts", headers=legacy)
        ).status_code == 422
        no_hook = _bearer(APP_ID, app_key().private_pem)  # Switchyard's App has no hook here
        assert (await api.get("/app/hook/deliveries", headers=no_hook)).status_code == 404


def test_link_headers_parse_the_way_httpx_reads_them() -> None:
    response = httpx.Response(200, headers={"Link": '<http://x/a?cursor=v1_3>; rel="next"'})
    assert response.links["next"]["url"] == "http://x/a?cursor=v1_3"
