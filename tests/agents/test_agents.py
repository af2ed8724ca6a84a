"""Agent-system clients against faked agent systems (respx), jobs and signed completions."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from flags.model import Issue, System
from flags.secret import Secret
from service.agents import (
    AgentJob,
    AgentSystem,
    Completion,
    PythonAgent,
    TypeScriptAgent,
    parse_completion,
    sign_completion,
    verify_completion,
)
from service.agents.sansio import cancel_path
from service.errors import AgentRejected, AgentRetryable, PayloadError, SignatureError
from service.github.events import IssueEvent, parse_event

BASE = "http://agent.test"
ISSUE = Issue("octo-org/octo-repo", 42)
JOB = AgentJob(
    job_id="job-1",
    delivery_id="delivery-1",
    repository="octo-org/octo-repo",
    issue_number=42,
    action="opened",
    issue={"number": 42, "title": "Crash on start"},
    dry_run=False,
    callback_url="http://switchyard.test/agents/python/completions",
)
AGENT_CLASSES = [PythonAgent, TypeScriptAgent]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


@pytest.fixture(params=AGENT_CLASSES, ids=["python", "typescript"])
def agent(request: pytest.FixtureRequest, client: httpx.AsyncClient) -> AgentSystem:
    cls: type[PythonAgent | TypeScriptAgent] = request.param
    return cls(base_url=BASE + "/", http=client, timeout=0.5)


def _refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


def test_each_client_names_its_system(client: httpx.AsyncClient) -> None:
    assert PythonAgent(base_url=BASE, http=client).system is System.PYTHON
    assert TypeScriptAgent(base_url=BASE, http=client).system is System.TYPESCRIPT


# process


@pytest.mark.parametrize("status", [200, 201, 202])
async def test_process_posts_the_job_and_accepts_2xx(
    respx_mock: respx.MockRouter, agent: AgentSystem, status: int
) -> None:
    route = respx_mock.post(f"{BASE}/issues/process").respond(status)
    await agent.process(JOB)
    sent = route.calls.last.request
    assert json.loads(sent.content) == {
        "job_id": "job-1",
        "delivery_id": "delivery-1",
        "repository": "octo-org/octo-repo",
        "issue_number": 42,
        "action": "opened",
        "issue": {"number": 42, "title": "Crash on start"},
        "dry_run": False,
        "callback_url": "http://switchyard.test/agents/python/completions",
    }


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 429])
async def test_process_server_error_or_throttle_is_retryable(
    respx_mock: respx.MockRouter, agent: AgentSystem, status: int
) -> None:
    respx_mock.post(f"{BASE}/issues/process").respond(status, text="busy")
    with pytest.raises(AgentRetryable) as caught:
        await agent.process(JOB)
    error = caught.value
    assert (error.agent_status, error.system, error.issue) == (status, agent.system, ISSUE)
    assert error.delivery_id == "delivery-1"
    assert error.status_code == 502
    assert "busy" in str(error)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 204, 302])
async def test_process_client_error_is_rejected(
    respx_mock: respx.MockRouter, agent: AgentSystem, status: int
) -> None:
    respx_mock.post(f"{BASE}/issues/process").respond(status)
    with pytest.raises(AgentRejected) as caught:
        await agent.process(JOB)
    assert caught.value.agent_status == status


async def test_an_agents_error_text_is_escaped_before_it_reaches_a_log_line(
    respx_mock: respx.MockRouter, agent: AgentSystem
) -> None:
    respx_mock.post(f"{BASE}/issues/process").respond(400, text="bad\nINFO forged\x00" + "x" * 500)
    with pytest.raises(AgentRejected) as caught:
        await agent.process(JOB)
    message = caught.value.message
    assert "\n" not in message and "\x00" not in message
    assert "bad\\x0aINFO forged\\x00" in message and message.endswith("…")


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectTimeout("connect timed out"),
        httpx.ReadTimeout("read timed out"),
        httpx.ReadError("[Errno 104] Connection reset by peer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
    ids=["connect-timeout", "read-timeout", "reset", "disconnected"],
)
async def test_process_timeout_or_reset_is_retryable(
    respx_mock: respx.MockRouter, agent: AgentSystem, failure: httpx.TransportError
) -> None:
    respx_mock.post(f"{BASE}/issues/process").mock(side_effect=failure)
    with pytest.raises(AgentRetryable) as caught:
        await agent.process(JOB)
    assert caught.value.agent_status is None
    assert caught.value.__cause__ is failure


async def test_process_against_a_closed_port_is_retryable(client: httpx.AsyncClient) -> None:
    agent = PythonAgent(base_url=_refused_url(), http=client, timeout=2)
    with pytest.raises(AgentRetryable, match="ConnectError"):
        await agent.process(JOB)


# cancel


async def test_cancel_posts_owner_and_name_as_two_segments(
    respx_mock: respx.MockRouter, agent: AgentSystem
) -> None:
    route = respx_mock.post(f"{BASE}/issues/octo-org/octo-repo/42/cancel").respond(200)
    assert await agent.cancel(ISSUE) is True
    assert route.calls.last.request.content == b""


async def test_cancel_escapes_each_segment(
    respx_mock: respx.MockRouter, agent: AgentSystem
) -> None:
    route = respx_mock.post(url__regex=r".*/cancel$").respond(202)
    assert await agent.cancel(Issue("we ird/na%me.js", 7)) is True
    assert route.calls.last.request.url.raw_path == b"/issues/we%20ird/na%25me.js/7/cancel"


async def test_cancel_of_an_issue_the_system_does_not_know_is_false(
    respx_mock: respx.MockRouter, agent: AgentSystem
) -> None:
    respx_mock.post(f"{BASE}/issues/octo-org/octo-repo/42/cancel").respond(404)
    assert await agent.cancel(ISSUE) is False


async def test_cancel_server_error_is_retryable(
    respx_mock: respx.MockRouter, agent: AgentSystem
) -> None:
    respx_mock.post(f"{BASE}/issues/octo-org/octo-repo/42/cancel").respond(503)
    with pytest.raises(AgentRetryable) as caught:
        await agent.cancel(ISSUE)
    assert caught.value.issue == ISSUE


@pytest.mark.parametrize("repository", ["no-slash", "a/b/c", "../x", "a/..", "/x", "a/"])
def test_cancel_path_refuses_what_is_not_owner_slash_name(repository: str) -> None:
    with pytest.raises(ValueError, match="owner/name"):
        cancel_path(Issue(repository, 1))


# health


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (204, False), (503, False)])
async def test_health_is_true_only_on_200(
    respx_mock: respx.MockRouter, agent: AgentSystem, status: int, healthy: bool
) -> None:
    respx_mock.get(f"{BASE}/health").respond(status)
    assert await agent.health() is healthy


async def test_health_timeout_is_false(respx_mock: respx.MockRouter, agent: AgentSystem) -> None:
    respx_mock.get(f"{BASE}/health").mock(side_effect=httpx.ReadTimeout("slow"))
    assert await agent.health() is False


async def test_health_of_a_closed_port_is_false(client: httpx.AsyncClient) -> None:
    assert await PythonAgent(base_url=_refused_url(), http=client).health() is False


# jobs


def test_job_for_an_issue_event_carries_the_github_issue() -> None:
    body = json.dumps(
        {
            "action": "labeled",
            "issue": {"number": 42, "title": "Crash on start", "labels": [{"name": "bug"}]},
            "repository": {"full_name": "octo-org/octo-repo"},
        }
    ).encode()
    event = parse_event(event="issues", delivery_id="delivery-9", body=body)
    assert isinstance(event, IssueEvent)
    job = AgentJob.for_event(event, job_id="j", dry_run=True, callback_url="http://cb")
    assert job.target == ISSUE
    assert (job.delivery_id, job.action, job.dry_run) == ("delivery-9", "labeled", True)
    assert job.issue["labels"] == [{"name": "bug"}]


def test_job_payload_round_trips() -> None:
    assert AgentJob.from_payload(JOB.as_payload()) == JOB


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"job_id": ""}, "job_id"),
        ({"callback_url": None}, "callback_url"),
        ({"issue_number": "42"}, "issue_number"),
        ({"issue_number": True}, "issue_number"),
        ({"dry_run": "no"}, "dry_run"),
        ({"issue": []}, "issue"),
    ],
)
def test_malformed_job_payload_is_a_payload_error(change: dict[str, object], field: str) -> None:
    with pytest.raises(PayloadError, match=f"job.{field}"):
        AgentJob.from_payload({**JOB.as_payload(), **change})


# completions

AGENT_SECRET = Secret("shared with the agent systems")
COMPLETION = Completion(
    job_id="job-1",
    issue_number=42,
    success=True,
    duration_seconds=12.5,
    dry_run=False,
    pr_number=7,
    output_digest="ab" * 32,
)


def test_completion_round_trips_through_json() -> None:
    assert parse_completion(COMPLETION.to_json()) == COMPLETION


def test_completion_without_optional_fields_parses() -> None:
    body = b'{"job_id":"j","issue_number":1,"success":false,"duration_seconds":3,"dry_run":true}'
    assert parse_completion(body) == Completion("j", 1, False, 3.0, True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"issue_number":1}', "job_id"),
        (b'{"job_id":"j","issue_number":1,"success":1,"dry_run":false}', "success"),
        (b'{"job_id":"j","success":true,"dry_run":false,"duration_seconds":-1}', "duration"),
        (b'{"job_id":"j","success":true,"dry_run":false,"duration_seconds":1}', "issue_number"),
        (
            b'{"job_id":"j","issue_number":1,"success":true,"dry_run":false,'
            b'"duration_seconds":1,"pr_number":"7"}',
            "pr_number",
        ),
        (
            b'{"job_id":"j","issue_number":1,"success":true,"dry_run":false,'
            b'"duration_seconds":1,"output_digest":5}',
            "output_digest",
        ),
    ],
)
def test_malformed_completion_is_a_payload_error(body: bytes, field: str) -> None:
    with pytest.raises(PayloadError, match=field):
        parse_completion(body)


PY_SECRET = Secret("python's own callback secret")


def _verify(header: str, *, own: Secret | None, system: System = System.PYTHON) -> bool:
    body = COMPLETION.to_json()
    return verify_completion(system=system, own=own, shared=AGENT_SECRET, body=body, header=header)


def test_a_completion_signed_with_the_systems_own_secret_verifies() -> None:
    body = COMPLETION.to_json()
    assert _verify(sign_completion(PY_SECRET, body, system=System.PYTHON), own=PY_SECRET) is False


def test_the_signature_covers_the_system() -> None:
    body = COMPLETION.to_json()
    as_typescript = sign_completion(PY_SECRET, body, system=System.TYPESCRIPT)
    with pytest.raises(SignatureError, match="does not match"):
        _verify(as_typescript, own=PY_SECRET)


def test_with_its_own_secret_a_system_may_not_use_the_shared_one() -> None:
    body = COMPLETION.to_json()
    with pytest.raises(SignatureError, match="does not match"):
        _verify(sign_completion(AGENT_SECRET, body, system=System.PYTHON), own=PY_SECRET)


def test_the_shared_secret_is_still_accepted_and_reported_as_such() -> None:
    body = COMPLETION.to_json()
    assert _verify(sign_completion(AGENT_SECRET, body, system=System.PYTHON), own=None)
    assert _verify(sign_completion(AGENT_SECRET, body), own=None)  # the old body-only form


def test_completion_signed_with_another_secret_is_refused() -> None:
    body = COMPLETION.to_json()
    with pytest.raises(SignatureError, match="X-Switchyard-Signature does not match"):
        _verify(sign_completion(Secret("other"), body, system=System.PYTHON), own=None)


def test_unsigned_completion_is_refused() -> None:
    with pytest.raises(SignatureError, match="X-Switchyard-Signature is missing"):
        verify_completion(
            system=System.PYTHON, own=None, shared=AGENT_SECRET, body=b"{}", header=None
        )
