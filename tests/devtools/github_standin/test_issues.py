"""The stand-in's labels, assignees and comments: GitHub's shapes and status codes."""

from __future__ import annotations

from tests.standin import TOKEN, running_standin

AUTH = {"Authorization": f"token {TOKEN}"}
BASE = "/repos/acme/app/issues/7"


async def test_labels_are_added_listed_paged_and_removed_as_github_answers() -> None:
    async with running_standin() as (standin, api):
        added = await api.post(f"{BASE}/labels", json={"labels": ["bug", "fix-me"]}, headers=AUTH)
        assert added.status_code == 200
        assert [label["name"] for label in added.json()] == ["bug", "fix-me"]
        assert set(added.json()[0]) >= {"id", "node_id", "url", "name", "color", "default"}
        again = await api.post(f"{BASE}/labels", json=["fix-me"], headers=AUTH)
        assert [label["name"] for label in again.json()] == ["bug", "fix-me"]
        page = await api.get(f"{BASE}/labels", params={"per_page": 1}, headers=AUTH)
        assert len(page.json()) == 1 and 'rel="next"' in page.headers["link"]
        assert "x-ratelimit-remaining" in page.headers
        gone = await api.delete(f"{BASE}/labels/fix-me", headers=AUTH)
        assert [label["name"] for label in gone.json()] == ["bug"]
        missing = await api.delete(f"{BASE}/labels/fix-me", headers=AUTH)
        assert missing.status_code == 404 and missing.json()["message"] == "Label does not exist"
        invalid = await api.post(f"{BASE}/labels", json={"labels": [3]}, headers=AUTH)
        assert invalid.status_code == 422
        anonymous = await api.post(f"{BASE}/labels", json=["x"])
        assert anonymous.status_code == 401
    assert [(a, what) for a, _, _, what in standin.issues.log] == [
        ("label_added", "bug"),
        ("label_added", "fix-me"),
        ("label_removed", "fix-me"),
    ]


async def test_assignees_and_comments_answer_with_the_issue_and_the_comment() -> None:
    async with running_standin() as (_, api):
        assigned = await api.post(
            f"{BASE}/assignees", json={"assignees": ["Copilot"]}, headers=AUTH
        )
        assert assigned.status_code == 201
        assert [user["login"] for user in assigned.json()["assignees"]] == ["Copilot"]
        unassigned = await api.request(
            "DELETE", f"{BASE}/assignees", json={"assignees": ["Copilot"]}, headers=AUTH
        )
        assert unassigned.status_code == 200 and unassigned.json()["assignee"] is None
        comment = await api.post(f"{BASE}/comments", json={"body": "On it."}, headers=AUTH)
        assert comment.status_code == 201 and comment.json()["body"] == "On it."
        listed = await api.get(f"{BASE}/comments", headers=AUTH)
        assert [c["id"] for c in listed.json()] == [comment.json()["id"]]
        empty = await api.post(f"{BASE}/comments", json={"body": ""}, headers=AUTH)
        assert empty.status_code == 422
