"""check_delivery: the pure intake decision over (headers, raw body, secret), checks in order."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.datastructures import Headers

from flags.model import Issue
from flags.secret import Secret
from service.errors import (
    PayloadError,
    PayloadTooLarge,
    SignatureError,
    SwitchyardError,
    UnsupportedMediaType,
)
from service.github.events import CheckCompleted, Ignored, IssueEvent, Ping, PullRequestClosed
from service.github.intake import (
    MAX_BODY_BYTES,
    Accepted,
    Verified,
    check_delivery,
    verify_delivery,
)
from service.github.signature import sign

SECRET = Secret("intake-test-secret")
DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
ISSUE_OPENED: dict[str, Any] = {
    "action": "opened",
    "issue": {"number": 42, "title": "Crash on start", "body": "It crashes.", "labels": []},
    "repository": {"full_name": "octo-org/octo-repo"},
    "sender": {"login": "octocat"},
}


def _encode(payload: object) -> bytes:
    return json.dumps(payload).encode()


def _headers(body: bytes, event: str = "issues", **overrides: str | None) -> dict[str, str]:
    """GitHub's headers for ``body``, signed; an override of None leaves a header out."""
    headers: dict[str, str | None] = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": DELIVERY,
        "X-Hub-Signature-256": sign(SECRET, body),
        "User-Agent": "GitHub-Hookshot/044aadd",
    }
    headers.update({name.replace("_", "-"): value for name, value in overrides.items()})
    return {name: value for name, value in headers.items() if value is not None}


def _check(body: bytes, headers: dict[str, str]) -> Accepted | Ping | Ignored:
    return check_delivery(headers=headers, body=body, secret=SECRET)


def _refused(body: bytes, headers: dict[str, str]) -> SwitchyardError:
    with pytest.raises(SwitchyardError) as caught:
        _check(body, headers)
    return caught.value


# accepted, ping, ignored


def test_routed_issue_is_accepted_with_its_parsed_event() -> None:
    body = _encode(ISSUE_OPENED)
    outcome = _check(body, _headers(body))
    assert isinstance(outcome, Accepted)
    assert (outcome.delivery_id, outcome.event) == (DELIVERY, "issues")
    assert isinstance(outcome.parsed, IssueEvent)
    assert outcome.parsed.issue == Issue("octo-org/octo-repo", 42)
    assert outcome.parsed.delivery_id == DELIVERY


def test_closed_pull_request_is_accepted() -> None:
    payload = {
        "action": "closed",
        "pull_request": {"number": 7, "merged": True, "body": "Fixes #42", "head": {"ref": "x"}},
        "repository": {"full_name": "octo-org/octo-repo"},
    }
    body = _encode(payload)
    outcome = _check(body, _headers(body, "pull_request"))
    assert isinstance(outcome, Accepted)
    assert isinstance(outcome.parsed, PullRequestClosed)
    assert outcome.parsed.linked_issues == (42,)


@pytest.mark.parametrize("kind", ["check_suite", "check_run", "workflow_run"])
def test_completed_check_is_accepted(kind: str) -> None:
    payload = {
        "action": "completed",
        kind: {"conclusion": "success", "head_branch": "issue-3", "pull_requests": []},
        "repository": {"full_name": "octo-org/octo-repo"},
    }
    body = _encode(payload)
    outcome = _check(body, _headers(body, kind))
    assert isinstance(outcome, Accepted)
    assert outcome.event == kind
    assert isinstance(outcome.parsed, CheckCompleted)


def test_ping_is_a_ping() -> None:
    body = _encode({"zen": "Design for failure.", "hook_id": 1})
    outcome = _check(body, _headers(body, "ping"))
    assert outcome == Ping(delivery_id=DELIVERY, zen="Design for failure.")


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("star", {"action": "created", "starred_at": "2024-01-01T00:00:00Z"}),
        ("push", {"ref": "refs/heads/main"}),
        ("issues", {**ISSUE_OPENED, "action": "closed"}),
        ("pull_request", {"action": "opened"}),
        ("check_run", {"action": "created"}),
    ],
)
def test_event_not_acted_on_is_ignored(event: str, payload: dict[str, Any]) -> None:
    body = _encode(payload)
    outcome = _check(body, _headers(body, event))
    assert isinstance(outcome, Ignored)
    assert (outcome.delivery_id, outcome.event) == (DELIVERY, event)
    assert outcome.why


def test_header_names_are_case_insensitive() -> None:
    body = _encode(ISSUE_OPENED)
    lowered = {name.lower(): value for name, value in _headers(body).items()}
    assert isinstance(_check(body, lowered), Accepted)
    shouted = {name.upper(): value for name, value in _headers(body).items()}
    assert isinstance(_check(body, shouted), Accepted)


def _raw(headers: list[tuple[str, str]]) -> Headers:
    """Headers as Starlette hands them over: repeated names kept, in the order sent."""
    return Headers(raw=[(name.lower().encode(), value.encode()) for name, value in headers])


def test_the_first_of_repeated_delivery_and_event_headers_counts() -> None:
    body = _encode(ISSUE_OPENED)
    signed = list(_headers(body).items())
    first = _raw([*signed, ("X-GitHub-Delivery", "second-id"), ("X-GitHub-Event", "push")])
    outcome = check_delivery(headers=first, body=body, secret=SECRET)
    assert isinstance(outcome, Accepted)
    assert (outcome.delivery_id, outcome.event) == (DELIVERY, "issues")
    pushed_first = _raw([("X-GitHub-Event", "push"), ("X-GitHub-Delivery", "first-id"), *signed])
    ignored = check_delivery(headers=pushed_first, body=body, secret=SECRET)
    assert isinstance(ignored, Ignored)
    assert (ignored.delivery_id, ignored.event) == ("first-id", "push")


def test_the_first_of_repeated_signature_headers_is_the_one_checked() -> None:
    body = _encode(ISSUE_OPENED)
    good = _headers(body)
    wrong = ("X-Hub-Signature-256", sign(Secret("someone-else"), body))
    assert isinstance(
        check_delivery(headers=_raw([*good.items(), wrong]), body=body, secret=SECRET), Accepted
    )
    with pytest.raises(SignatureError):
        check_delivery(headers=_raw([wrong, *good.items()]), body=body, secret=SECRET)


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", " application/json "]
)
def test_json_content_type_with_parameters_or_case_is_taken(content_type: str) -> None:
    body = _encode(ISSUE_OPENED)
    assert isinstance(_check(body, _headers(body, Content_Type=content_type)), Accepted)


# 413: size first


def test_body_over_the_limit_is_refused_before_the_signature_is_checked() -> None:
    body = b" " * (MAX_BODY_BYTES + 1)
    error = _refused(body, _headers(body, X_Hub_Signature_256=None))
    assert isinstance(error, PayloadTooLarge)
    assert error.status_code == 413
    assert error.delivery_id == DELIVERY


def test_body_at_the_limit_passes_the_size_check() -> None:
    payload = _encode(ISSUE_OPENED)
    body = payload + b" " * (MAX_BODY_BYTES - len(payload))
    assert len(body) == MAX_BODY_BYTES
    assert isinstance(_check(body, _headers(body)), Accepted)


# 401: the signature, over the raw bytes, before anything else is looked at


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (None, "missing"),
        ("", "missing"),
        ("sha1=" + "0" * 40, "'sha1'"),
        ("sha256=" + "0" * 64, "does not match"),
        (sign(Secret("another secret"), _encode(ISSUE_OPENED)), "does not match"),
        (sign(SECRET, _encode(ISSUE_OPENED) + b" "), "does not match"),
        ("sha256=nothex", "not a hex"),
    ],
)
def test_unsigned_or_wrongly_signed_delivery_is_refused(
    signature: str | None, message: str
) -> None:
    body = _encode(ISSUE_OPENED)
    error = _refused(body, _headers(body, X_Hub_Signature_256=signature))
    assert isinstance(error, SignatureError)
    assert message in error.message
    assert error.status_code == 401


def test_signature_is_checked_before_content_type_headers_and_json() -> None:
    body = b"{not json"
    headers = _headers(
        body,
        Content_Type="text/plain",
        X_GitHub_Event=None,
        X_Hub_Signature_256=sign(SECRET, b"{}"),
    )
    assert isinstance(_refused(body, headers), SignatureError)


def test_empty_secret_refuses_everything() -> None:
    empty = Secret("")
    body = _encode(ISSUE_OPENED)
    headers = _headers(body, X_Hub_Signature_256=sign(empty, body))
    with pytest.raises(SignatureError, match="no secret"):
        check_delivery(headers=headers, body=body, secret=empty)


# 415: content type


@pytest.mark.parametrize(
    "content_type",
    [None, "", "text/plain", "application/x-www-form-urlencoded", "application/jsonx"],
)
def test_content_type_other_than_json_is_refused(content_type: str | None) -> None:
    body = _encode(ISSUE_OPENED)
    error = _refused(body, _headers(body, Content_Type=content_type))
    assert isinstance(error, UnsupportedMediaType)
    assert error.status_code == 415
    assert error.delivery_id == DELIVERY


# 400: headers, then the payload


@pytest.mark.parametrize("header", ["X-GitHub-Event", "X-GitHub-Delivery"])
@pytest.mark.parametrize("value", [None, "", "   ", "has space", "x" * 129])
def test_missing_or_malformed_github_header_is_refused(header: str, value: str | None) -> None:
    body = _encode(ISSUE_OPENED)
    headers = {k: v for k, v in _headers(body).items() if k != header}
    if value is not None:
        headers[header] = value
    error = _refused(body, headers)
    assert isinstance(error, PayloadError)
    assert header in error.message
    assert error.status_code == 400


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"not json", b"[1]", b"null", b"\xff\xfe{}", '{"a": 1}'.encode("utf-16")],
)
def test_body_that_is_not_a_utf8_json_object_is_refused(body: bytes) -> None:
    error = _refused(body, _headers(body))
    assert isinstance(error, PayloadError)
    assert error.status_code == 400
    assert error.context() == {"delivery_id": DELIVERY}


def test_routed_event_missing_a_field_is_refused_naming_it() -> None:
    payload = {**ISSUE_OPENED, "issue": {"title": "no number"}}
    body = _encode(payload)
    with pytest.raises(PayloadError, match=r"issue\.number"):
        _check(body, _headers(body))


# Every refusal names the delivery (it is logged and answered with it), and says exactly why.
# The messages are written from the module docstring's list of checks, not copied from the code.
@pytest.mark.parametrize(
    ("change", "kind", "message"),
    [
        (
            {"X-Hub-Signature-256": None},
            SignatureError,
            "X-Hub-Signature-256 is missing",
        ),
        (
            {"X-Hub-Signature-256": "sha1=abc=def"},
            SignatureError,
            "X-Hub-Signature-256 must use 'sha256=', not 'sha1'",
        ),
        (
            {"X-Hub-Signature-256": "md5-or-something-long=" + "0" * 64},
            SignatureError,
            "X-Hub-Signature-256 must use 'sha256=', not 'md5-or-something'",
        ),
        (
            {"X-Hub-Signature-256": "sha256=" + "g" * 64},
            SignatureError,
            "X-Hub-Signature-256 is not a hex SHA-256 digest",
        ),
        (
            {"X-Hub-Signature-256": "sha256=" + "0" * 64},
            SignatureError,
            "X-Hub-Signature-256 does not match the body",
        ),
        (
            {"Content-Type": "text/plain"},
            UnsupportedMediaType,
            "Content-Type must be application/json, not 'text/plain'",
        ),
        (
            {"Content-Type": None},
            UnsupportedMediaType,
            "Content-Type must be application/json, not ''",
        ),
        (
            {"Content-Type": "text/" + "x" * 100},
            UnsupportedMediaType,
            "Content-Type must be application/json, not '" + ("text/" + "x" * 100)[:80] + "'",
        ),
        (
            {"X-GitHub-Event": None},
            PayloadError,
            "X-GitHub-Event is missing or malformed",
        ),
    ],
)
def test_each_refusal_names_the_delivery_and_says_exactly_why(
    change: dict[str, str | None], kind: type[SwitchyardError], message: str
) -> None:
    body = _encode(ISSUE_OPENED)
    headers: dict[str, str | None] = {**_headers(body), **change}
    error = _refused(body, {name: value for name, value in headers.items() if value is not None})
    assert type(error) is kind
    assert str(error) == message
    assert error.delivery_id == DELIVERY


def test_an_empty_secret_refusal_names_the_delivery() -> None:
    body = _encode(ISSUE_OPENED)
    with pytest.raises(SignatureError) as caught:
        check_delivery(headers=_headers(body), body=body, secret=Secret(""))
    assert str(caught.value) == "no secret is configured for X-Hub-Signature-256; refusing"
    assert caught.value.delivery_id == DELIVERY


def test_body_limit_and_encoding_refusals_say_why_and_name_the_delivery() -> None:
    big = b" " * (MAX_BODY_BYTES + 1)
    too_large = _refused(big, _headers(big))
    assert str(too_large) == f"body is {MAX_BODY_BYTES + 1} bytes; the limit is {MAX_BODY_BYTES}"
    assert too_large.delivery_id == DELIVERY
    latin = '{"action": "opened", "x": "\xe9"}'.encode("latin-1")
    not_utf8 = _refused(latin, _headers(latin))
    assert isinstance(not_utf8, PayloadError)
    assert str(not_utf8).startswith("body is not UTF-8: ")
    assert not_utf8.delivery_id == DELIVERY


def test_a_verified_delivery_keeps_its_headers_lower_cased_and_its_content_type_as_sent() -> None:
    body = _encode(ISSUE_OPENED)
    headers = _headers(body, Content_Type="Application/JSON; charset=utf-8")
    verified = verify_delivery(headers=headers, body=body, secret=SECRET)
    assert verified == Verified(
        delivery_id=DELIVERY,
        event="issues",
        headers={
            "content-type": "Application/JSON; charset=utf-8",
            "x-github-event": "issues",
            "x-github-delivery": DELIVERY,
            "x-hub-signature-256": sign(SECRET, body),
            "user-agent": "GitHub-Hookshot/044aadd",
        },
        content_type="Application/JSON; charset=utf-8",
    )
