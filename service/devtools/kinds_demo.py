"""The demo of the other kinds: typescript a gated GitHub App, python a label-triggered bot.

:class:`KindsDemo` plays GitHub against processes the command started (``switchyard
demo-kinds``): the service, a worker, the typescript App's endpoint (``simulate-app``) and the
GitHub stand-in (labels), and narrates what each system got:

1. gradual at 50 %: each new issue is delivered twice, to the App's own hook and to
   Switchyard's; the App gets its copy only for its issues, python's issues get the ``fix-me``
   label (through the stand-in's REST API);
2. someone puts ``fix-me`` on a typescript issue: Switchyard takes it off again, audited;
3. both bots open their pull requests: the outcomes come from GitHub's events (no callbacks)
   and fill the side-by-side table, which says where each system's numbers come from;
4. the kill switch: python's labels come off, and the App gets each handed-back issue's last
   ``issues`` delivery.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from flags.model import Mode
from flags.secret import Secret
from service.devtools.demo import DEMO_ACTOR
from service.devtools.webhook_sender import delivery_headers
from service.errors import DevtoolsError
from service.github.signature import sign
from service.migration.control import MigrationControl

__all__ = ["KindsDemo", "KindsDemoFailed", "KindsDemoSetup"]

REPOSITORY = "acme/kinds-demo"
LABEL = "fix-me"
TYPESCRIPT_BOT = "legacy-app[bot]"
PYTHON_BOT = "fixer[bot]"


class KindsDemoFailed(DevtoolsError):
    """Something the demo waits for did not happen in time."""


@dataclass(frozen=True)
class KindsDemoSetup:
    service_url: str
    app_url: str  # the typescript App's endpoint (simulate-app)
    standin_url: str  # the GitHub stand-in
    webhook_secret: Secret  # Switchyard's own hook
    app_secret: Secret  # the typescript App's hook
    github_token: Secret
    issues: int = 10
    reader: Secret | None = None  # the viewer (or admin) token: the status needs a login


@dataclass
class KindsDemo:
    setup: KindsDemoSetup
    http: httpx.AsyncClient
    control: MigrationControl
    say: Callable[[str], None]
    report: dict[str, Any] = field(default_factory=dict)

    async def run(self) -> dict[str, Any]:
        numbers = range(1, self.setup.issues + 1)
        await self.control.set_mode(Mode.GRADUAL, actor=DEMO_ACTOR, reason="kinds demo", force=True)
        await self.control.set_rollout(50, actor=DEMO_ACTOR, reason="kinds demo")
        self.say(f"\n== 1/4 gradual 50%: {len(numbers)} new issues, each to both hooks")
        for number in numbers:
            await self._both("issues", {"action": "opened", "issue": _issue(number)})
        await self._until(lambda: self._settled(len(numbers)), "every issue routed")
        app = await self._app_issues()
        labelled = [n for n in numbers if LABEL in await self._labels(n)]
        self.say(f"   the typescript App got its copy of issues {app}")
        self.say(f"   python's trigger {LABEL!r} is on issues {labelled}")
        self.report["app_issues"], self.report["labelled"] = app, labelled
        if not app or not labelled:
            raise KindsDemoFailed("50% should give each system some issues; try more --issues")

        victim = app[0]
        self.say(f"\n== 2/4 mallory puts {LABEL!r} on typescript's issue #{victim}")
        await self._github("POST", f"{_issue_path(victim)}/labels", {"labels": [LABEL]})
        labeled = {"action": "labeled", "issue": _issue(victim), "label": {"name": LABEL}}
        await self._own("issues", {**labeled, "sender": {"login": "mallory"}})
        await self._until(lambda: self._without_label(victim), f"{LABEL!r} off #{victim}")
        self.say("   Switchyard took it off again (audit: foreign_trigger_removed by mallory)")

        self.say("\n== 3/4 the bots open their pull requests; outcomes come from GitHub")
        for number in labelled:
            await self._own("pull_request", _pull(number, PYTHON_BOT))
        for number in app:
            await self._app("pull_request", _pull(number, TYPESCRIPT_BOT))
        await self._until(lambda: self._completions(len(numbers)), "every outcome")
        comparison = (await self._status())["comparison"]
        for system in ("typescript", "python"):
            success = comparison[system]["success_rate"]
            self.say(
                f"   {system:<10} success {success.get('successes', 0)} of "
                f"{success.get('n', 0)}; numbers from: {comparison['sources'][system]}"
            )
        self.report["sources"] = comparison["sources"]

        self.say("\n== 4/4 kill switch on: everything back to typescript")
        await self.control.rollback(actor=DEMO_ACTOR, reason="kinds demo: hand-back")
        await self._until(self._labels_gone, f"{LABEL!r} off python's issues")
        await self._until(lambda: self._app_has(numbers), "the App to get python's issues")
        self.say(f"   {LABEL!r} removed from {labelled}; the App now has every issue's last event")
        return self.report

    async def _both(self, event: str, payload: dict[str, Any]) -> None:
        await self._app(event, payload)
        await self._own(event, payload)

    async def _own(self, event: str, payload: dict[str, Any]) -> None:
        await self._post("/webhooks/github", self.setup.webhook_secret, event, payload)

    async def _app(self, event: str, payload: dict[str, Any]) -> None:
        with_installation = {**payload, "installation": {"id": 1}}
        await self._post(
            "/webhooks/github/typescript", self.setup.app_secret, event, with_installation
        )

    async def _post(self, path: str, secret: Secret, event: str, payload: dict[str, Any]) -> None:
        body = json.dumps({"repository": {"full_name": REPOSITORY}, **payload}).encode()
        headers = delivery_headers(
            event=event, delivery_id=str(uuid.uuid4()), signature=sign(secret, body)
        )
        answer = await self.http.post(
            f"{self.setup.service_url}{path}", content=body, headers=headers
        )
        if answer.status_code not in (200, 202):
            raise KindsDemoFailed(f"{path} answered {answer.status_code}: {answer.text[:200]}")

    async def _github(self, method: str, path: str, data: object = None) -> Any:
        answer = await self.http.request(
            method,
            f"{self.setup.standin_url}{path}",
            json=data,
            headers={"Authorization": f"token {self.setup.github_token.reveal()}"},
        )
        return answer.json()

    async def _labels(self, number: int) -> list[str]:
        return [
            label["name"] for label in await self._github("GET", f"{_issue_path(number)}/labels")
        ]

    async def _without_label(self, number: int) -> bool:
        return LABEL not in await self._labels(number)

    async def _labels_gone(self) -> bool:
        return all([await self._without_label(n) for n in self.report["labelled"]])

    async def _app_deliveries(self) -> list[dict[str, Any]]:
        return list((await self.http.get(f"{self.setup.app_url}/_deliveries")).json())

    async def _app_issues(self) -> list[int]:
        found = {
            json.loads(row["body"])["issue"]["number"]
            for row in await self._app_deliveries()
            if row["event"] == "issues"
        }
        return sorted(found)

    async def _app_has(self, numbers: range) -> bool:
        return await self._app_issues() == list(numbers)

    async def _status(self) -> dict[str, Any]:
        reader = self.setup.reader
        headers = {"Authorization": f"Bearer {reader.reveal()}"} if reader else {}
        answer = await self.http.get(f"{self.setup.service_url}/migration/status", headers=headers)
        status: dict[str, Any] = answer.json()
        return status

    async def _settled(self, count: int) -> bool:
        status = await self._status()
        return bool(sum(status["owners"].values()) >= count and status["queue"]["pending"] == 0)

    async def _completions(self, count: int) -> bool:
        comparison = (await self._status())["comparison"]
        rates = [comparison[s]["success_rate"].get("n", 0) for s in ("typescript", "python")]
        return bool(sum(rates) >= count)

    async def _until(self, check: Callable[[], Awaitable[bool]], what: str) -> None:
        for _ in range(300):
            if await check():
                return
            await asyncio.sleep(0.2)
        raise KindsDemoFailed(f"timed out waiting for {what}")


def _issue(number: int) -> dict[str, Any]:
    return {"number": number, "title": f"Kinds demo issue {number}", "body": "", "labels": []}


def _issue_path(number: int) -> str:
    return f"/repos/{REPOSITORY}/issues/{number}"


def _pull(number: int, author: str) -> dict[str, Any]:
    return {
        "action": "opened",
        "pull_request": {
            "number": 100 + number,
            "body": f"Fixes #{number}",
            "head": {"ref": f"fix-{number}"},
            "user": {"login": author},
        },
    }
