"""No input yields a 5xx: every endpoint answers 2xx or 4xx for any body, header or path, in-process
against the real Redis and Unleash. The regressions first (each answered 500 before), then
hypothesis over bytes, JSON shapes, header values and path segments."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flags.admin_api import UnleashAdmin
from flags.model import Issue, System
from flags.provision import EVENTS_SECRET_HEADER
from service.agents.completion import COMPLETION_SIGNATURE_HEADER, sign_completion
from service.github.signature import sign
from service.migration.audit import AuditTrail
from service.pipeline.jobs import Job, JobState, JobStore, job_id_for
from tests.auth import viewer_bearer
from tests.conftest import InProcessService

pytestmark = pytest.mark.integration

EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ISSUE: dict[str, Any] = {
    "action": "opened",
    "issue": {"number": 42, "title": "Crash", "body": "It crashes.", "labels": []},
    "repository": {"full_name": "octo-org/octo-repo"},
    "sender": {"login": "octocat"},
}

# Raw JSON texts that broke a reader before: depth, huge integers, overflow, NaN, duplicates,
# lone surrogates, and each spliced into an otherwise valid issue event.
BREAKERS = [
    "[" * 1200 + "]" * 1200,
    '{"action": "opened", "issue": ' + '{"a":' * 1100 + "1" + "}" * 1100 + "}",
    '{"action": "opened", "issue": {"number": ' + "9" * 5000 + "}}",
    '{"action": "opened", "issue": {"number": 1e400}}',
    '{"action": "opened", "issue": {"number": NaN}}',
    '{"action": "opened", "x": Infinity}',
    '{"action": "opened", "action": "closed"}',
    '{"action": "opened", "repository": {"full_name": "\\ud800/x"}}',
]


def _signed_webhook(edge: InProcessService, body: bytes, event: str = "issues") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(edge.settings.require_webhook_secret(), body),
    }


def _signed_completion(edge: InProcessService, body: bytes) -> dict[str, str]:
    secret = edge.settings.agent_secret
    assert secret is not None
    return {
        "Content-Type": "application/json",
        COMPLETION_SIGNATURE_HEADER: sign_completion(secret, body),
    }


def _no_5xx(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.request.url, response.status_code, response.text)
    assert "Traceback" not in response.text


# The regressions, one by one


@pytest.mark.parametrize("body", BREAKERS)
async def test_signed_webhooks_of_any_json_shape_are_400(edge: InProcessService, body: str) -> None:
    raw = body.encode()
    response = await edge.client.post(
        "/webhooks/github", content=raw, headers=_signed_webhook(edge, raw)
    )
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("body", BREAKERS)
async def test_signed_completions_of_any_json_shape_are_400(
    edge: InProcessService, body: str
) -> None:
    raw = body.encode()
    response = await edge.client.post(
        "/agents/python/completions", content=raw, headers=_signed_completion(edge, raw)
    )
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("name", ["./y", "../z", "x/..", "a b/c", "x/y\u0000", "-x/y"])
async def test_repository_names_github_never_gives_are_refused_at_intake(
    edge: InProcessService, name: str
) -> None:
    raw = json.dumps({**ISSUE, "repository": {"full_name": name}}).encode()
    response = await edge.client.post(
        "/webhooks/github", content=raw, headers=_signed_webhook(edge, raw)
    )
    assert response.status_code == 400, response.text
    assert "repository.full_name" in response.json()["error"]
    assert "\x00" not in response.text


async def test_a_sender_login_github_never_gives_is_refused(edge: InProcessService) -> None:
    raw = json.dumps({**ISSUE, "sender": {"login": "evil\nINFO forged line"}}).encode()
    response = await edge.client.post(
        "/webhooks/github", content=raw, headers=_signed_webhook(edge, raw)
    )
    assert response.status_code == 400, response.text
    assert "sender.login" in response.json()["error"]


async def _dispatched(edge: InProcessService, number: int) -> Job:
    runtime = edge.runtime
    job = Job(
        job_id=job_id_for(f"delivery-{number}", System.PYTHON, dry_run=False),
        delivery_id=f"delivery-{number}",
        issue=Issue("acme/app", number),
        system=System.PYTHON,
        dry_run=False,
        state=JobState.DISPATCHED,
    )
    return await JobStore(runtime.redis, prefix=runtime.prefix).record(job)


@pytest.mark.parametrize("duration", [1.7e308, 1e12, 7 * 24 * 3600 + 1, -0.5])
async def test_a_duration_out_of_range_is_refused_and_status_keeps_answering(
    edge: InProcessService, duration: float
) -> None:
    job = await _dispatched(edge, 7)
    payload = {
        "job_id": job.job_id,
        "issue_number": 7,
        "success": True,
        "duration_seconds": duration,
        "dry_run": False,
    }
    raw = json.dumps(payload).encode()
    refused = await edge.client.post(
        "/agents/python/completions", content=raw, headers=_signed_completion(edge, raw)
    )
    assert refused.status_code == 400, refused.text
    assert "duration_seconds" in refused.json()["error"]
    status = await edge.client.get("/migration/status", headers=viewer_bearer(edge.settings))
    assert status.status_code == 200, status.text
    assert status.json()["comparison"]["python"]["duration_seconds"]["n"] == 0
    metrics = await edge.client.get("/metrics")
    assert metrics.status_code == 200
    # the largest duration in range is recorded and shown
    ok = json.dumps({**payload, "duration_seconds": 7 * 24 * 3600}).encode()
    taken = await edge.client.post(
        "/agents/python/completions", content=ok, headers=_signed_completion(edge, ok)
    )
    assert taken.status_code == 200, taken.text
    shown = (
        await edge.client.get("/migration/status", headers=viewer_bearer(edge.settings))
    ).json()["comparison"]["python"]
    assert shown["duration_seconds"]["n"] == 1
    assert 0 < shown["duration_seconds"]["p95"] <= 7 * 24 * 3600  # an estimate, finite


@pytest.mark.parametrize("percentage", ["²", "٣", "\uff11\uff10", "1e2", "0x10", "101", "-1", " "])
async def test_a_rollout_percentage_that_is_not_0_to_100_is_a_400(
    edge: InProcessService, percentage: str
) -> None:
    token = edge.settings.admin_token
    assert token is not None
    response = await edge.client.post(
        "/migration/dashboard/actions/rollout",
        data={"percentage": percentage, "reason": "typo"},
        headers={"Authorization": f"Bearer {token.reveal()}"},
    )
    assert response.status_code == 400, response.text
    assert "percentage" in response.json()["error"]


async def test_control_characters_never_reach_the_audit_trail_raw(
    edge: InProcessService, flags_reset: UnleashAdmin
) -> None:
    token = edge.settings.admin_token
    assert token is not None
    response = await edge.client.post(
        "/migration/dashboard/actions/mode",
        data={"mode": "parallel", "reason": "shadow\x00 first", "actor": "eve\x00\x1b[2J"},
        headers={"Authorization": f"Bearer {token.reveal()}"},
    )
    assert response.status_code == 200, response.text
    [entry] = await AuditTrail(edge.runtime.redis, prefix=edge.runtime.prefix).recent()
    assert entry.actor == "admin"  # the token names the actor: a typed name never gets in
    assert entry.reason == "shadow\\x00 first"


# Hypothesis: any bytes, any JSON shape, any header value, any path segment

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=12,
)
# A valid event with one field replaced by anything: reaches the parser's every branch.
MUTATED_ISSUES = st.builds(
    lambda path, value: _replaced(ISSUE, path, value),
    st.sampled_from(
        [
            ("action",),
            ("issue",),
            ("issue", "number"),
            ("issue", "title"),
            ("issue", "labels"),
            ("issue", "pull_request"),
            ("repository",),
            ("repository", "full_name"),
            ("sender",),
            ("sender", "login"),
        ]
    ),
    JSON_VALUES,
)
BODIES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(BREAKERS).map(str.encode),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    MUTATED_ISSUES.map(lambda value: json.dumps(value).encode()),
)
HEADER_VALUES = st.binary(max_size=80).filter(lambda raw: b"\r" not in raw and b"\n" not in raw)
SEGMENTS = st.text(min_size=1, max_size=40)


def _replaced(payload: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(payload))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return dict(copy)


@EXAMPLES
@given(
    body=BODIES,
    event=st.sampled_from(["issues", "pull_request", "check_suite", "check_run", "ping", "star"]),
)
async def test_any_signed_webhook_body_is_answered_without_a_5xx(
    edge: InProcessService, body: bytes, event: str
) -> None:
    response = await edge.client.post(
        "/webhooks/github", content=body, headers=_signed_webhook(edge, body, event)
    )
    _no_5xx(response)


@EXAMPLES
@given(body=BODIES, system=st.sampled_from(["python", "typescript"]))
async def test_any_signed_completion_body_is_answered_without_a_5xx(
    edge: InProcessService, body: bytes, system: str
) -> None:
    response = await edge.client.post(
        f"/agents/{system}/completions", content=body, headers=_signed_completion(edge, body)
    )
    _no_5xx(response)


@EXAMPLES
@given(
    name=st.sampled_from(
        [
            "Content-Type",
            "Content-Length",
            "X-GitHub-Event",
            "X-GitHub-Delivery",
            "X-Hub-Signature-256",
            COMPLETION_SIGNATURE_HEADER,
            EVENTS_SECRET_HEADER,
            "Authorization",
            "Cookie",
            "Origin",
            "Referer",
            "Accept",
        ]
    ),
    value=HEADER_VALUES,
    path=st.sampled_from(
        [
            "/webhooks/github",
            "/agents/python/completions",
            "/unleash/events",
            "/migration/dashboard/login",
            "/migration/dashboard/logout",
            "/migration/dashboard/actions/rollout",
        ]
    ),
)
async def test_any_header_value_is_answered_without_a_5xx(
    edge: InProcessService, name: str, value: bytes, path: str
) -> None:
    body = json.dumps(ISSUE).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"x-github-event", b"issues"),
        (b"x-github-delivery", b"d-1"),
        (b"x-hub-signature-256", sign(edge.settings.require_webhook_secret(), body).encode()),
    ]
    headers = [(k, v) for k, v in headers if k != name.lower().encode()]
    headers.append((name.lower().encode(), value))
    request = edge.client.build_request("POST", path, content=body)
    request.headers = httpx.Headers([*request.headers.raw, *headers])
    _no_5xx(await edge.client.send(request))


@EXAMPLES
@given(
    segment=SEGMENTS,
    template=st.sampled_from(
        [
            "/agents/{}/completions",
            "/webhooks/github/{}",
            "/migration/dashboard/actions/{}",
            "/migration/static/{}",
            "/{}",
            "/migration/dashboard/panels?window={}",
        ]
    ),
    method=st.sampled_from(["GET", "POST"]),
)
async def test_any_path_segment_is_answered_without_a_5xx(
    edge: InProcessService, segment: str, template: str, method: str
) -> None:
    encoded = quote(segment.encode("utf-8", "surrogatepass"), safe="")
    response = await edge.client.request(method, template.format(encoded), content=b"{}")
    _no_5xx(response)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    action=st.sampled_from(["rollout", "mode", "rollback", "leave-rollback"]),
    form=st.dictionaries(
        st.sampled_from(["percentage", "mode", "reason", "confirm", "force", "actor"]),
        st.text(max_size=30),
        max_size=6,
    ),
)
async def test_any_dashboard_form_is_answered_without_a_5xx(
    edge: InProcessService, flags_reset: UnleashAdmin, action: str, form: dict[str, str]
) -> None:
    token = edge.settings.admin_token
    assert token is not None
    body = "&".join(
        f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in form.items()
    )
    response = await edge.client.post(
        f"/migration/dashboard/actions/{action}",
        content=body.encode(),
        headers={
            "Authorization": f"Bearer {token.reveal()}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    _no_5xx(response)
