"""GitHub intake: signatures over raw bytes, typed events, issues linked from PRs and branches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flags.model import Issue
from flags.secret import Secret
from service.errors import PayloadError, SignatureError
from service.github.events import (
    ROUTED_ACTIONS,
    CheckCompleted,
    CheckKind,
    GitHubEvent,
    Ignored,
    IssueEvent,
    Ping,
    PullRequestClosed,
    parse_event,
)
from service.github.links import closing_references, issue_from_branch, linked_issues
from service.github.signature import sign, verify_signature

EXAMPLES = Path(__file__).parents[2] / "unleash/node_modules/@octokit/webhooks-examples"
EVENTS = ("issues", "pull_request", "check_suite", "check_run", "workflow_run", "ping")
SECRET = Secret("It's a Secret to Everybody")
BODY = b'{"zen": "Keep it logically awesome."}'


def _octokit_examples() -> list[Any]:
    cases = []
    for index in sorted(EXAMPLES.glob("*/index.json")):
        for definition in json.loads(index.read_text()):
            if definition["name"] not in EVENTS:
                continue
            for n, example in enumerate(definition["examples"]):
                name = f"{index.parent.name}:{definition['name']}:{example.get('action')}:{n}"
                cases.append(pytest.param(definition["name"], example, id=name))
    return cases


OCTOKIT = _octokit_examples()


def _issue_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "action": "opened",
        "issue": {
            "number": 42,
            "title": "Crash on start",
            "body": "It crashes.",
            "labels": [{"name": "bug"}, {"name": "agent"}],
        },
        "repository": {"full_name": "octo-org/octo-repo"},
        "sender": {"login": "octocat"},
    }
    payload.update(overrides)
    return payload


def _parse(event: str, payload: object) -> GitHubEvent:
    return parse_event(event=event, delivery_id="d-1", body=json.dumps(payload).encode())


# signatures


def test_github_documented_example_signature_verifies() -> None:
    # The example from GitHub's "Validating webhook deliveries" documentation.
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign(SECRET, b"Hello, World!") == expected
    verify_signature(secret=SECRET, body=b"Hello, World!", header=expected)


def test_right_signature_passes() -> None:
    verify_signature(secret=SECRET, body=BODY, header=sign(SECRET, BODY))


def test_uppercase_hex_digest_passes() -> None:
    header = "sha256=" + sign(SECRET, BODY).removeprefix("sha256=").upper()
    verify_signature(secret=SECRET, body=BODY, header=header)


@pytest.mark.parametrize("header", [None, ""])
def test_missing_signature_is_refused(header: str | None) -> None:
    with pytest.raises(SignatureError, match="missing"):
        verify_signature(secret=SECRET, body=BODY, header=header)


def test_signature_under_another_secret_is_refused() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(secret=SECRET, body=BODY, header=sign(Secret("wrong"), BODY))


def test_sha1_signature_is_refused() -> None:
    with pytest.raises(SignatureError, match="'sha1'"):
        verify_signature(secret=SECRET, body=BODY, header="sha1=" + "0" * 40)


def test_right_signature_over_another_body_is_refused() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(secret=SECRET, body=BODY + b" ", header=sign(SECRET, BODY))


@pytest.mark.parametrize("digest", ["zz" * 32, "ab" * 31, "ab" * 33, ""])
def test_non_hex_or_short_digest_is_refused(digest: str) -> None:
    with pytest.raises(SignatureError, match="not a hex SHA-256 digest"):
        verify_signature(secret=SECRET, body=BODY, header="sha256=" + digest)


def test_empty_secret_refuses_even_a_matching_signature() -> None:
    empty = Secret("")
    with pytest.raises(SignatureError, match="no secret"):
        verify_signature(secret=empty, body=BODY, header=sign(empty, BODY))


def test_signature_error_carries_the_delivery_id() -> None:
    with pytest.raises(SignatureError) as caught:
        verify_signature(secret=SECRET, body=BODY, header=None, delivery_id="abc")
    assert caught.value.status_code == 401
    assert caught.value.context() == {"delivery_id": "abc"}


# every real payload from @octokit/webhooks-examples


def test_octokit_examples_are_installed() -> None:
    assert EXAMPLES.is_dir(), f"{EXAMPLES} is missing: run `npm ci` in unleash/"
    assert len(OCTOKIT) >= 85


@pytest.mark.parametrize(("event", "payload"), OCTOKIT)
def test_octokit_example_parses_into_the_right_type(event: str, payload: dict[str, Any]) -> None:
    parsed = _parse(event, payload)
    action = payload.get("action")
    repository = payload.get("repository", {}).get("full_name")
    if event == "ping":
        assert isinstance(parsed, Ping)
        assert parsed.zen == payload["zen"]
    elif event == "issues" and action in ROUTED_ACTIONS:
        assert isinstance(parsed, IssueEvent)
        assert parsed.issue == Issue(repository, payload["issue"]["number"])
        assert parsed.action == action
        assert parsed.title == payload["issue"]["title"]
    elif event == "pull_request" and action == "closed":
        assert isinstance(parsed, PullRequestClosed)
        assert parsed.pr_number == payload["pull_request"]["number"]
        assert parsed.merged is payload["pull_request"]["merged"]
        assert parsed.repository == repository
    elif event in ("check_suite", "check_run", "workflow_run") and action == "completed":
        assert isinstance(parsed, CheckCompleted)
        assert parsed.kind == event
        assert parsed.conclusion == payload[event]["conclusion"]
        assert parsed.pr_numbers == tuple(p["number"] for p in payload[event]["pull_requests"])
    else:
        assert isinstance(parsed, Ignored)
        assert parsed.action == action


# issues


def test_opened_issue_becomes_an_issue_event() -> None:
    parsed = _parse("issues", _issue_payload())
    assert parsed == IssueEvent(
        delivery_id="d-1",
        action="opened",
        issue=Issue("octo-org/octo-repo", 42),
        title="Crash on start",
        body="It crashes.",
        labels=("bug", "agent"),
        sender="octocat",
        raw={},
    )
    assert isinstance(parsed, IssueEvent)
    assert parsed.raw["issue"]["number"] == 42


def test_issue_with_null_body_and_no_labels_is_read_leniently() -> None:
    payload = _issue_payload()
    payload["issue"] = {"number": 3, "title": "t", "body": None}
    parsed = _parse("issues", payload)
    assert isinstance(parsed, IssueEvent)
    assert (parsed.body, parsed.labels) == ("", ())


@pytest.mark.parametrize("action", ["closed", "deleted", "unlabeled", "milestoned", "pinned"])
def test_unrouted_issue_action_is_ignored(action: str) -> None:
    parsed = _parse("issues", _issue_payload(action=action))
    assert isinstance(parsed, Ignored)
    assert (parsed.event, parsed.action) == ("issues", action)


def test_issue_that_is_a_pull_request_is_ignored() -> None:
    payload = _issue_payload()
    payload["issue"]["pull_request"] = {"url": "https://api.github.com/repos/o/r/pulls/42"}
    parsed = _parse("issues", payload)
    assert isinstance(parsed, Ignored)
    assert "pull request" in parsed.why


@pytest.mark.parametrize(
    "event", ["push", "issue_comment", "star", "installation", "deployment_status"]
)
def test_other_events_are_ignored(event: str) -> None:
    parsed = _parse(event, {"action": "created"})
    assert isinstance(parsed, Ignored)
    assert parsed.event == event


@pytest.mark.parametrize(
    "body", [b"", b"{", b"not json", b"\xff\xfe", b"[1, 2]", b'"text"', b"null"]
)
def test_body_that_is_not_a_json_object_is_a_payload_error(body: bytes) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_event(event="issues", delivery_id="d-9", body=body)
    assert caught.value.status_code == 400
    assert caught.value.delivery_id == "d-9"


def _without(path: str) -> dict[str, Any]:
    payload = _issue_payload()
    *parents, last = path.split(".")
    target = payload
    for key in parents:
        target = target[key]
    del target[last]
    return payload


@pytest.mark.parametrize(
    ("payload", "names"),
    [
        (_without("issue"), "issue"),
        (_without("issue.number"), "issue.number"),
        (_without("issue.title"), "issue.title"),
        (_without("repository"), "repository"),
        (_without("repository.full_name"), "repository.full_name"),
        (_without("action"), "action"),
        (_issue_payload(repository={"full_name": "no-slash"}), "repository.full_name"),
        (_issue_payload(issue={"number": "42", "title": "t"}), "issue.number"),
        (_issue_payload(issue={"number": True, "title": "t"}), "issue.number"),
        (_issue_payload(issue={"number": 0, "title": "t"}), "issue.number"),
    ],
)
def test_issue_event_missing_a_field_names_it(payload: dict[str, Any], names: str) -> None:
    with pytest.raises(PayloadError, match=f"issues payload: {names} "):
        _parse("issues", payload)


# pull requests and CI


def _pull_request_closed(body: str | None, ref: str, merged: bool = True) -> dict[str, Any]:
    return {
        "action": "closed",
        "number": 7,
        "pull_request": {"number": 7, "merged": merged, "body": body, "head": {"ref": ref}},
        "repository": {"full_name": "octo-org/octo-repo"},
    }


def test_merged_pull_request_links_issues_from_body_and_branch() -> None:
    payload = _pull_request_closed("Fixes #12.\nAlso closes octo-org/octo-repo#13", "issue-14")
    assert _parse("pull_request", payload) == PullRequestClosed(
        delivery_id="d-1",
        repository="octo-org/octo-repo",
        pr_number=7,
        merged=True,
        head_ref="issue-14",
        body="Fixes #12.\nAlso closes octo-org/octo-repo#13",
        linked_issues=(12, 13, 14),
    )


def test_closed_unmerged_pull_request_with_null_body() -> None:
    parsed = _parse("pull_request", _pull_request_closed(None, "main", merged=False))
    assert isinstance(parsed, PullRequestClosed)
    assert (parsed.merged, parsed.body, parsed.linked_issues) == (False, "", ())


def test_closed_pull_request_without_head_is_a_payload_error() -> None:
    payload = _pull_request_closed("", "x")
    del payload["pull_request"]["head"]
    with pytest.raises(PayloadError, match=r"pull_request\.head "):
        _parse("pull_request", payload)


def test_check_run_takes_its_branch_from_its_suite() -> None:
    payload = {
        "action": "completed",
        "check_run": {
            "conclusion": "failure",
            "check_suite": {"head_branch": "switchyard/python/issue-5"},
            "pull_requests": [{"number": 8}],
        },
        "repository": {"full_name": "octo-org/octo-repo"},
    }
    assert _parse("check_run", payload) == CheckCompleted(
        delivery_id="d-1",
        kind="check_run",
        repository="octo-org/octo-repo",
        conclusion="failure",
        success=False,
        head_branch="switchyard/python/issue-5",
        pr_numbers=(8,),
        linked_issues=(5,),
    )


@pytest.mark.parametrize(
    ("conclusion", "success"),
    [
        ("success", True),
        ("neutral", True),
        ("skipped", True),
        ("failure", False),
        ("cancelled", False),
        ("timed_out", False),
        ("action_required", False),
        (None, False),
    ],
)
def test_ci_success_follows_branch_protection(conclusion: str | None, success: bool) -> None:
    payload = {
        "action": "completed",
        "workflow_run": {"conclusion": conclusion, "head_branch": "42-fix", "pull_requests": []},
        "repository": {"full_name": "o/r"},
    }
    parsed = _parse("workflow_run", payload)
    assert isinstance(parsed, CheckCompleted)
    assert (parsed.success, parsed.linked_issues) == (success, (42,))


def test_requested_check_suite_is_ignored() -> None:
    parsed = _parse("check_suite", {"action": "requested", "check_suite": {}})
    assert isinstance(parsed, Ignored)


# linked issues


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fixes #1", (1,)),
        ("fixes #1, closes #2 and resolves #3", (1, 2, 3)),
        ("CLOSED #4\nFIXED #5\nResolved #6", (4, 5, 6)),
        ("close #7 fix #8 resolve #9", (7, 8, 9)),
        ("Closes: #10", (10,)),
        ("Fixes octo-org/octo-repo#11", (11,)),
        ("Fixes OCTO-ORG/Octo-Repo#12", (12,)),
        ("Fixes other/repo#13", ()),
        ("Fixes #1 and #2", (1,)),
        ("Fixes #1. Also fixes #1", (1,)),
        ("See #14", ()),
        ("prefixes #15", ()),
        ("autofix #16", ()),
        ("Fixes#17", ()),
        ("Fixes #0", ()),
        ("Fixes #18abc", ()),
        ("Fixes #19.", (19,)),
        ("(fixes #20)", (20,)),
        ("", ()),
    ],
)
def test_closing_references(text: str, expected: tuple[int, ...]) -> None:
    assert closing_references(text, repository="octo-org/octo-repo") == expected


@pytest.mark.parametrize(
    ("branch", "expected"),
    [
        ("issue-123", 123),
        ("issue/123", 123),
        ("issue_123", 123),
        ("issues/123", 123),
        ("issue123", 123),
        ("Issue-123-fix-typo", 123),
        ("switchyard/python/issue-123", 123),
        ("switchyard/typescript/issue-9", 9),
        ("fix/issue-7-typo", 7),
        ("123-some-title", 123),
        ("feature/45-add-thing", 45),
        ("main", None),
        ("changes", None),
        ("v2", None),
        ("release/2024-01-01", None),
        ("tissue-5", None),
        ("issue-5x", None),
        ("issue-0", None),
        ("", None),
    ],
)
def test_issue_from_branch(branch: str, expected: int | None) -> None:
    assert issue_from_branch(branch) == expected


def test_linked_issues_dedupes_branch_and_body() -> None:
    found = linked_issues(repository="o/r", body="Fixes #3", branch="issue-3")
    assert found == (3,)
    assert linked_issues(repository="o/r", body=None, branch=None) == ()


@given(st.text())
def test_closing_references_never_raise_on_any_text(text: str) -> None:
    found = closing_references(text, repository="octo-org/octo-repo")
    assert all(number > 0 for number in found)
    assert len(set(found)) == len(found)


@given(st.text())
def test_issue_from_branch_never_raises_on_any_text(branch: str) -> None:
    number = issue_from_branch(branch)
    assert number is None or number > 0


@given(
    keyword=st.sampled_from(
        ["close", "closes", "closed", "fix", "fixes", "fixed", "resolve", "resolves", "resolved"]
    ),
    number=st.integers(min_value=1, max_value=9_999_999_999),
    prefix=st.text(alphabet=" \n.,;:!?()"),
)
def test_every_closing_keyword_links_its_issue(keyword: str, number: int, prefix: str) -> None:
    text = f"{prefix}{keyword.upper()} #{number}"
    assert closing_references(text, repository="o/r") == (number,)


def _refusal(event: str, payload: object) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        parse_event(event=event, delivery_id="dlv-9", body=json.dumps(payload).encode())
    assert caught.value.delivery_id == "dlv-9"  # logged and answered with the delivery
    return caught.value


_PULL: dict[str, Any] = {
    "action": "closed",
    "repository": {"full_name": "octo-org/octo-repo"},
    "pull_request": {"number": 7, "merged": False, "head": {"ref": "fix-7"}, "body": None},
}


# Each refusal says which field is wrong and how, word for word: the sender reads it in the 400.
@pytest.mark.parametrize(
    ("event", "payload", "message"),
    [
        ("issues", [1, 2], "body is JSON list, not an object"),
        (
            "issues",
            _issue_payload(action=None),
            "issues payload: action is missing or not a string",
        ),
        ("issues", _issue_payload(issue=None), "issues payload: issue is missing or not an object"),
        (
            "issues",
            _issue_payload(issue={"number": "x"}),
            "issues payload: issue.number must be a whole number 1..2147483647, got 'x'",
        ),
        (
            "issues",
            _issue_payload(repository=None),
            "issues payload: repository is missing or not an object",
        ),
        (
            "issues",
            _issue_payload(repository={"full_name": ""}),
            "issues payload: repository.full_name is missing or not a non-empty string",
        ),
        (
            "issues",
            _issue_payload(repository={"full_name": "a/b/c"}),
            "issues payload: repository.full_name has a name GitHub does not allow: 'a/b/c'",
        ),
        (
            "issues",
            _issue_payload(repository={"full_name": "no-slash"}),
            "issues payload: repository.full_name is not owner/name: 'no-slash'",
        ),
        (
            "pull_request",
            {**_PULL, "pull_request": {**_PULL["pull_request"], "head": None}},
            "pull_request payload: pull_request.head is missing or not an object",
        ),
        (
            "pull_request",
            {**_PULL, "pull_request": {**_PULL["pull_request"], "head": {"ref": ""}}},
            "pull_request payload: pull_request.head.ref is missing or not a non-empty string",
        ),
        (
            "pull_request",
            {**_PULL, "pull_request": {**_PULL["pull_request"], "number": 0}},
            "pull_request payload: pull_request.number must be a whole number 1..2147483647, got 0",
        ),
        ("pull_request", {**_PULL, "pull_request": None}, None),
    ],
)
def test_payload_refusals_name_the_field_word_for_word(
    event: str, payload: object, message: str | None
) -> None:
    error = _refusal(event, payload)
    if message is not None:
        assert str(error) == message
    else:
        assert str(error) == "pull_request payload: pull_request is missing or not an object"


def test_a_body_that_is_not_json_says_so_and_names_the_delivery() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_event(event="issues", delivery_id="dlv-9", body=b"{nope")
    assert str(caught.value).startswith("body is not JSON: ")
    assert caught.value.delivery_id == "dlv-9"


def test_a_parsed_issue_event_keeps_the_delivery_event_and_action() -> None:
    parsed = parse_event(
        event="issues", delivery_id="dlv-9", body=json.dumps(_issue_payload()).encode()
    )
    assert isinstance(parsed, IssueEvent)
    assert (parsed.delivery_id, parsed.action) == ("dlv-9", "opened")
    assert parsed.sender == "octocat"
    assert parsed.labels == ("bug", "agent")


def test_a_ping_keeps_its_zen_and_a_ping_without_one_has_none() -> None:
    zen = parse_event(event="ping", delivery_id="p", body=b'{"zen": "Speak like a human."}')
    assert zen == Ping(delivery_id="p", zen="Speak like a human.")
    bare = parse_event(event="ping", delivery_id="p", body=b'{"zen": 5}')
    assert bare == Ping(delivery_id="p", zen="")


def test_an_ignored_issue_action_keeps_the_delivery_event_and_action() -> None:
    body = json.dumps(_issue_payload(action="pinned")).encode()
    ignored = parse_event(event="issues", delivery_id="dlv-9", body=body)
    assert isinstance(ignored, Ignored)
    assert (ignored.delivery_id, ignored.event, ignored.action) == ("dlv-9", "issues", "pinned")


# What the README says of names: "a sender is a login or `name[bot]`"; a refusal quotes the
# bad value escaped and cut (a repository name at 80 characters, a login at 60, then "…").
@pytest.mark.parametrize(
    ("sender", "message"),
    [
        ({"login": "not a login"}, "sender.login is not a GitHub login: 'not a login'"),
        ({"login": 5}, "sender.login is not a GitHub login: '5'"),
        ({"login": "x" * 70}, f"sender.login is not a GitHub login: '{'x' * 60}…'"),
        ({"login": "octocat[bot]x"}, "sender.login is not a GitHub login: 'octocat[bot]x'"),
    ],
)
def test_a_sender_that_is_not_a_github_login_is_refused_word_for_word(
    sender: object, message: str
) -> None:
    assert str(_refusal("issues", _issue_payload(sender=sender))) == f"issues payload: {message}"


@pytest.mark.parametrize(
    ("sender", "login"),
    [
        ({"login": "dependabot[bot]"}, "dependabot[bot]"),
        ({"login": "mona-lisa"}, "mona-lisa"),
        ({"login": None}, ""),
        ({}, ""),
        (None, ""),
        ("octocat", ""),
        (["octocat"], ""),
    ],
)
def test_a_sender_is_a_login_or_an_apps_bot_name_and_may_be_absent(
    sender: object, login: str
) -> None:
    parsed = _parse("issues", _issue_payload(sender=sender))
    assert isinstance(parsed, IssueEvent)
    assert parsed.sender == login


def test_a_repository_name_in_a_refusal_is_cut_at_80_characters() -> None:
    name = "octo-org/" + "r" * 120  # a name longer than GitHub's 100
    error = _refusal("issues", _issue_payload(repository={"full_name": name}))
    assert str(error) == (
        f"issues payload: repository.full_name has a name GitHub does not allow: '{name[:80]}…'"
    )


def test_labels_keep_only_named_ones_in_order() -> None:
    labels = ["bug", {"name": "agent"}, {"name": 5}, None, {"color": "red"}, {"name": "p1"}]
    parsed = _parse("issues", _issue_payload(issue={"number": 3, "title": "t", "labels": labels}))
    assert isinstance(parsed, IssueEvent)
    assert parsed.labels == ("agent", "p1")


def test_an_issues_event_about_a_pull_request_is_ignored_with_its_delivery_and_action() -> None:
    issue = {"number": 9, "title": "t", "pull_request": {"url": "u"}}
    assert _parse("issues", _issue_payload(action="labeled", issue=issue)) == Ignored(
        delivery_id="d-1",
        event="issues",
        action="labeled",
        why="octo-org/octo-repo#9 is a pull request, not an issue",
    )


@pytest.mark.parametrize(
    ("event", "action", "why"),
    [
        ("star", "created", "event 'star' is not acted on"),
        ("issues", "deleted", "issues action 'deleted' is not acted on"),
        ("check_run", "created", "check_run action 'created' is not acted on"),
    ],
)
def test_an_ignored_delivery_says_whether_the_event_or_the_action_is_not_acted_on(
    event: str, action: str, why: str
) -> None:
    payload = {**_issue_payload(), "action": action}
    assert _parse(event, payload) == Ignored(delivery_id="d-1", event=event, action=action, why=why)


def test_an_acted_on_event_whose_action_is_not_text_is_refused() -> None:
    error = _refusal("issues", _issue_payload(action=5))
    assert str(error) == "issues payload: action is missing or not a string"


def _check(kind: str, data: object) -> dict[str, Any]:
    return {"action": "completed", kind: data, "repository": {"full_name": "o/r"}}


def _completed(kind: CheckKind, **fields: Any) -> CheckCompleted:
    base: dict[str, Any] = {
        "conclusion": None,
        "success": False,
        "head_branch": None,
        "pr_numbers": (),
        "linked_issues": (),
    }
    return CheckCompleted(delivery_id="d-1", kind=kind, repository="o/r", **(base | fields))


# The CI fields are read leniently: a conclusion, branch or list of pull requests of the wrong
# type counts as absent; the event's own head branch wins over its check suite's.
@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        ("check_run", {"conclusion": "success"}, {"conclusion": "success", "success": True}),
        ("check_suite", {"conclusion": 1, "head_branch": 7, "pull_requests": 5}, {}),
        (
            "workflow_run",
            {"conclusion": "failure", "head_branch": "main"},
            {"conclusion": "failure", "head_branch": "main"},
        ),
        (
            "check_run",
            {"head_branch": "12-own", "check_suite": {"head_branch": "switchyard/python/issue-5"}},
            {"head_branch": "12-own", "linked_issues": (12,)},
        ),
        (
            "check_run",
            {"check_suite": "not an object", "pull_requests": [{"number": 4}, "x", None]},
            {"pr_numbers": (4,)},
        ),
        ("check_suite", {"head_branch": "", "pull_requests": {"number": 4}}, {"head_branch": ""}),
    ],
)
def test_ci_results_read_what_they_can_and_link_the_branchs_issue(
    kind: CheckKind, data: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert _parse(kind, _check(kind, data)) == _completed(kind, **expected)


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        ("check_suite", None, "check_suite payload: check_suite is missing or not an object"),
        ("workflow_run", [], "workflow_run payload: workflow_run is missing or not an object"),
        (
            "check_run",
            {"pull_requests": [{"number": 0}]},
            "check_run payload: check_run.pull_requests[].number must be a whole number "
            "1..2147483647, got 0",
        ),
    ],
)
def test_ci_refusals_name_the_field_word_for_word(kind: str, data: object, message: str) -> None:
    assert str(_refusal(kind, _check(kind, data))) == message
