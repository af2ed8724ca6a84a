"""The ledger for GitHub App systems: two Apps, each with its own hook and secret, behind one
``switchyard serve`` and two ``switchyard worker`` processes, while the rollout goes 0 -> 100 %.

Each App gets its own copy of every event of 30 new issues (own delivery id, own secret), all
posted at once. The Apps' endpoints are the ledger: every issue's events reached exactly one App
(the owner), that App got every one of its copies of them, each delivery once, and the other App
none of them; the Apps verified every signature.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import Issue, Mode, System
from flags.secret import Secret
from flags.transitions import Actor, ActorKind
from service.devtools.app_receiver import create_app_receiver
from service.github.signature import sign
from service.keys import Keys
from service.migration.control import MigrationControl
from service.pipeline.stream import EventStream
from service.routing.ownership import OwnershipStore
from tests.devtools.test_simulator import serve
from tests.pipeline.test_worker import drained, eventually
from tests.processes import service_process
from tests.reliability.ledger import ARTIFACT
from tests.reliability.scenario import set_flags, workers

pytestmark = pytest.mark.integration

CASE = "github_app_gate"
REPO = "acme/apps-ledger"
ISSUES = range(1, 31)
ACTIONS = ("opened", "labeled", "edited")
SECRETS = {system: Secret(f"{system}-ledger-{uuid.uuid4().hex}") for system in System}
OPERATOR = Actor("reliability", ActorKind.HUMAN, "test")


def copy(system: System, number: int, action: str) -> tuple[str, bytes, dict[str, str]]:
    """``system``'s App's own delivery of one event."""
    body = json.dumps(
        {
            "action": action,
            "issue": {"number": number, "title": f"Issue {number}"},
            "repository": {"full_name": REPO},
            "installation": {"id": 100 + list(System).index(system)},
        }
    ).encode()
    delivery_id = f"{system}-{number}-{action}-{uuid.uuid4().hex[:6]}"
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": delivery_id,
        "X-Hub-Signature-256": sign(SECRETS[system], body),
    }
    return delivery_id, body, headers


async def test_two_apps_copies_reach_only_the_owners_app_once_while_the_rollout_moves(
    flags_reset: UnleashAdmin, env: dict[str, str], redis_client: Redis, prefix: str, tmp_path: Path
) -> None:
    await set_flags(flags_reset, mode=Mode.GRADUAL, rollout=0)
    async with (
        serve(create_app_receiver(secret=SECRETS[System.TYPESCRIPT])) as typescript_app,
        serve(create_app_receiver(secret=SECRETS[System.PYTHON])) as python_app,
        httpx.AsyncClient(limits=httpx.Limits(max_connections=64), timeout=30) as http,
    ):
        apps = {System.TYPESCRIPT: typescript_app, System.PYTHON: python_app}
        kinds = {}
        for system, url in apps.items():
            name = system.value.upper()
            kinds[f"SWITCHYARD_{name}_KIND"] = "github-app"
            kinds[f"SWITCHYARD_{name}_WEBHOOK_SECRET"] = SECRETS[system].reveal()
            kinds[f"SWITCHYARD_{name}_WEBHOOK_URL"] = f"{url}/"
        own = {**env, **kinds}
        async with service_process(own, tmp_path / "service.log") as service:
            async with workers("G1", "G2", env={**own, "SWITCHYARD_URL": service}, logs=tmp_path):
                sent: dict[str, tuple[System, Issue]] = {}

                async def post(system: System, number: int, action: str) -> None:
                    delivery_id, body, headers = copy(system, number, action)
                    sent[delivery_id] = (system, Issue(REPO, number))
                    url = f"{service}/webhooks/github/{system}"
                    answer = await http.post(url, content=body, headers=headers)
                    assert answer.status_code == 202, answer.text

                burst = [
                    post(system, number, action)
                    for number in ISSUES
                    for action in ACTIONS
                    for system in System
                ]
                sending = asyncio.gather(*burst)
                owners = OwnershipStore(redis_client, prefix=prefix)

                async def some_owned() -> bool:
                    return sum((await owners.counts()).values()) >= 10

                await eventually(some_owned, what="the first claims")
                control = MigrationControl(admin=flags_reset, redis=redis_client, prefix=prefix)
                await control.set_rollout(100, actor=OPERATOR, reason="reliability: mid-burst")
                await sending
                stream = EventStream(redis_client, prefix=prefix)
                await eventually(
                    lambda: drained(redis_client, stream), what="every delivery", within=90
                )
        received = {
            system: (await http.get(f"{url}/_deliveries")).json() for system, url in apps.items()
        }
        repeats = {
            system: (await http.post(f"{url}/_control", json={})).json()["repeats"]
            for system, url in apps.items()
        }
    reached: dict[Issue, set[System]] = defaultdict(set)
    for system, rows in received.items():
        for row in rows:
            origin, issue = sent[row["delivery_id"]]
            assert origin is system  # an App only ever gets its own copies
            reached[issue].add(system)
    doubly = [str(issue) for issue, systems in reached.items() if len(systems) > 1]
    counts: dict[str, Any] = {"sent": len(sent), "doubly_forwarded": len(doubly)}
    lost = []
    for number in ISSUES:
        issue = Issue(REPO, number)
        owner = await owners.owner(issue)
        assert owner is not None
        expected = {d for d, (system, i) in sent.items() if i == issue and system is owner.system}
        got = {row["delivery_id"] for row in received[owner.system]}
        lost += sorted(expected - got)
    counts |= {
        "lost": len(lost),
        "repeated": sum(repeats.values()),
        "forwarded": {str(s): len(rows) for s, rows in received.items()},
        "owners": {str(k): v for k, v in (await owners.counts()).items()},
        "dead_letters": int(await redis_client.xlen(Keys(prefix).dead_letters)),
    }
    _record(counts)
    assert doubly == [], f"issues forwarded to both Apps: {doubly[:10]}"
    assert lost == [], f"owner's copies never forwarded: {lost[:10]}"
    assert counts["repeated"] == 0 and counts["dead_letters"] == 0
    assert sum(len(rows) for rows in received.values()) == len(ISSUES) * len(ACTIONS)


def _record(counts: dict[str, Any]) -> None:
    print(f"\n{CASE}: {counts}", flush=True)
    ARTIFACT.parent.mkdir(exist_ok=True)
    try:
        recorded: dict[str, Any] = json.loads(ARTIFACT.read_text())
    except (OSError, ValueError):
        recorded = {}
    recorded[CASE] = {**counts, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    ARTIFACT.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
