"""The forwarded request: GitHub's body and headers, re-signed, accepted by @octokit/webhooks."""

from __future__ import annotations

import json

import httpx
import pytest

from flags.model import System
from flags.secret import Secret
from service.agents.github_app.forward import USER_AGENT, WebhookForwarder
from service.agents.github_app.intake import canonical_header, check_app_delivery
from service.errors import AgentRejected, AgentRetryable, SignatureError
from service.github.signature import sign
from tests.agents.github_app.octokit import octokit_verify

SECRET = Secret("typescript-app-secret")
BODY = json.dumps(
    {
        "action": "opened",
        "issue": {"number": 5, "title": "é ünïcode"},
        "repository": {"full_name": "acme/app"},
        "installation": {"id": 42},
    },
    ensure_ascii=False,
).encode()
GITHUB_HEADERS = {
    "X-GitHub-Event": "issues",
    "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    "X-GitHub-Hook-ID": "292430182",
    "X-GitHub-Hook-Installation-Target-ID": "79929171",
    "X-GitHub-Hook-Installation-Target-Type": "integration",
    "Content-Type": "application/json",
    "User-Agent": "GitHub-Hookshot/044aadd",
    "X-Hub-Signature-256": sign(SECRET, BODY),
}


def lowered(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def test_canonical_header_names_are_githubs() -> None:
    assert canonical_header("x-github-hook-installation-target-id") == (
        "X-GitHub-Hook-Installation-Target-ID"
    )
    assert canonical_header("content-type") == "Content-Type"


def test_another_apps_secret_is_refused() -> None:
    with pytest.raises(SignatureError):
        check_app_delivery(headers=lowered(GITHUB_HEADERS), body=BODY, secret=Secret("python"))


async def test_the_forward_is_githubs_request_byte_for_byte_and_octokit_accepts_it() -> None:
    delivery = check_app_delivery(headers=lowered(GITHUB_HEADERS), body=BODY, secret=SECRET)
    seen: list[httpx.Request] = []

    def app(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    async with httpx.AsyncClient(transport=httpx.MockTransport(app)) as http:
        await WebhookForwarder(http=http).forward(
            system=System.TYPESCRIPT,
            url="http://app.example/webhooks",
            secret=SECRET,
            body=BODY,
            headers=delivery.headers,
            delivery_id=delivery.delivery_id,
        )
    (request,) = seen
    assert request.content == BODY
    for name, value in GITHUB_HEADERS.items():
        if name != "User-Agent":
            assert request.headers[name] == value, name
    assert request.headers["User-Agent"] == USER_AGENT and "Switchyard" in USER_AGENT
    results = await octokit_verify(
        SECRET.reveal(), [(request.content.decode(), dict(request.headers))]
    )
    assert results == [
        {"verified": True, "id": GITHUB_HEADERS["X-GitHub-Delivery"], "name": "issues"}
    ]
    wrong = await octokit_verify("python-app-secret", [(BODY.decode(), dict(request.headers))])
    assert wrong[0]["verified"] is False


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, AgentRejected), (404, AgentRejected), (429, AgentRetryable), (500, AgentRetryable)],
)
async def test_the_apps_answer_decides_retry_or_refusal(
    status: int, error: type[Exception]
) -> None:
    refusal = httpx.MockTransport(lambda request: httpx.Response(status, text="bad hook"))
    async with httpx.AsyncClient(transport=refusal) as http:
        with pytest.raises(error, match="bad hook"):
            await WebhookForwarder(http=http).forward(
                system=System.PYTHON,
                url="http://app.example/",
                secret=SECRET,
                body=BODY,
                headers=(),
                delivery_id="d",
            )


async def test_a_timeout_is_retryable() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as http:
        with pytest.raises(AgentRetryable, match="timed out"):
            await WebhookForwarder(http=http).forward(
                system=System.PYTHON,
                url="http://app.example/",
                secret=SECRET,
                body=BODY,
                headers=(),
                delivery_id="d",
            )
