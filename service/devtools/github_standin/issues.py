"""Issues' labels, assignees and comments, in the shapes and status codes of GitHub's REST API.

=========================================================  ======================================
``GET    /repos/{o}/{r}/issues/{n}/labels``                 200, the labels (``per_page``,
                                                            ``page``, ``Link: rel="next"``)
``POST   /repos/{o}/{r}/issues/{n}/labels``                 200, every label now on the issue;
                                                            body ``{"labels": [...]}`` or a list
``DELETE /repos/{o}/{r}/issues/{n}/labels/{name}``          200, the labels left; 404
                                                            ``Label does not exist``
``POST   /repos/{o}/{r}/issues/{n}/assignees``              201, the issue
``DELETE /repos/{o}/{r}/issues/{n}/assignees``              200, the issue
``GET    /repos/{o}/{r}/issues/{n}/comments``               200, the comments (paginated)
``POST   /repos/{o}/{r}/issues/{n}/comments``               201, the comment; body ``{"body"}``
=========================================================  ======================================

A body that is not what the endpoint takes is 422 ``Validation Failed`` (400 if not JSON). Every
issue number exists (the stand-in plays a repository with all of them). What was done is kept
in :attr:`IssueStore.log` (``added``/``removed`` label or assignee, ``commented``), so tests can
check that a label was applied exactly once.
"""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.devtools.github_standin.auth import StandinAuth, iso_time
from service.devtools.github_standin.errors import github_error
from service.devtools.github_standin.guard import guarded
from service.devtools.github_standin.ratelimit import StandinLimits

__all__ = ["IssueStore", "StandinIssue", "issue_routes"]

_BASE = "/repos/{owner}/{repo}/issues/{number:int}"
_API = "https://api.github.com"


@dataclass
class StandinIssue:
    repository: str
    number: int
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class IssueStore:
    issues: dict[tuple[str, int], StandinIssue] = field(default_factory=dict)
    log: list[tuple[str, str, int, str]] = field(default_factory=list)  # action, repo, #, what
    next_id: int = 1000

    def issue(self, repository: str, number: int) -> StandinIssue:
        return self.issues.setdefault((repository, number), StandinIssue(repository, number))

    def label_json(self, repository: str, name: str) -> dict[str, Any]:
        return {
            "id": zlib.crc32(f"{repository}:{name}".encode()),
            "node_id": f"LA_{zlib.crc32(name.encode())}",
            "url": f"{_API}/repos/{repository}/labels/{name}",
            "name": name,
            "color": "ededed",
            "default": False,
            "description": None,
        }

    def issue_json(self, issue: StandinIssue) -> dict[str, Any]:
        users = [{"login": login, "type": "User"} for login in issue.assignees]
        return {
            "id": issue.number + 10**6,
            "number": issue.number,
            "url": f"{_API}/repos/{issue.repository}/issues/{issue.number}",
            "title": f"Issue {issue.number}",
            "state": "open",
            "labels": [self.label_json(issue.repository, name) for name in issue.labels],
            "assignee": users[0] if users else None,
            "assignees": users,
        }


def _names(body: object, key: str) -> list[str] | None:
    if isinstance(body, dict):
        body = body.get(key)
    if not isinstance(body, list) or not all(isinstance(x, str) and x for x in body):
        return None
    return list(body)


def _page(request: Request, items: list[dict[str, Any]]) -> Response:
    per_page = request.query_params.get("per_page", "30")
    page = request.query_params.get("page", "1")
    if not per_page.isdigit() or not page.isdigit() or int(per_page) < 1 or int(page) < 1:
        return github_error(400, "per_page and page must be positive numbers")
    size, number = min(int(per_page), 100), int(page)
    chunk = items[(number - 1) * size : number * size]
    headers = {}
    if number * size < len(items):
        next_url = request.url.include_query_params(per_page=size, page=number + 1)
        headers["Link"] = f'<{next_url}>; rel="next"'
    return JSONResponse(chunk, headers=headers)


_NOT_JSON = object()


async def _body(request: Request) -> object:
    try:
        return json.loads(await request.body())
    except ValueError:
        return _NOT_JSON


def issue_routes(store: IssueStore, auth: StandinAuth, limits: StandinLimits) -> list[Route]:
    def target(request: Request) -> StandinIssue:
        params = request.path_params
        return store.issue(f"{params['owner']}/{params['repo']}", int(params["number"]))

    def labels(issue: StandinIssue) -> list[dict[str, Any]]:
        return [store.label_json(issue.repository, name) for name in issue.labels]

    async def list_labels(request: Request) -> Response:
        return _page(request, labels(target(request)))

    async def add_labels(request: Request) -> Response:
        body = await _body(request)
        if body is _NOT_JSON:
            return github_error(400, "Problems parsing JSON")
        names = _names(body, "labels")
        if names is None:
            return github_error(422, "Validation Failed")
        issue = target(request)
        for name in names:
            if name not in issue.labels:
                issue.labels.append(name)
                store.log.append(("label_added", issue.repository, issue.number, name))
        return JSONResponse(labels(issue))

    async def remove_label(request: Request) -> Response:
        issue = target(request)
        name = unquote(request.path_params["name"])
        if name not in issue.labels:
            return github_error(404, "Label does not exist")
        issue.labels.remove(name)
        store.log.append(("label_removed", issue.repository, issue.number, name))
        return JSONResponse(labels(issue))

    async def assignees(request: Request) -> Response:
        body = await _body(request)
        if body is _NOT_JSON:
            return github_error(400, "Problems parsing JSON")
        logins = _names(body, "assignees")
        if logins is None:
            return github_error(422, "Validation Failed")
        issue = target(request)
        adding = request.method == "POST"
        for login in logins:
            if adding and login not in issue.assignees:
                issue.assignees.append(login)
                store.log.append(("assignee_added", issue.repository, issue.number, login))
            elif not adding and login in issue.assignees:
                issue.assignees.remove(login)
                store.log.append(("assignee_removed", issue.repository, issue.number, login))
        return JSONResponse(store.issue_json(issue), status_code=201 if adding else 200)

    async def comments(request: Request) -> Response:
        issue = target(request)
        if request.method == "GET":
            return _page(request, issue.comments)
        body = await _body(request)
        text = body.get("body") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text:
            return github_error(422, "Validation Failed")
        store.next_id += 1
        now = iso_time(time.time())
        comment = {
            "id": store.next_id,
            "node_id": f"IC_{store.next_id}",
            "url": f"{_API}/repos/{issue.repository}/issues/comments/{store.next_id}",
            "issue_url": f"{_API}/repos/{issue.repository}/issues/{issue.number}",
            "body": text,
            "user": {"login": "switchyard[bot]", "type": "Bot"},
            "created_at": now,
            "updated_at": now,
            "author_association": "NONE",
        }
        issue.comments.append(comment)
        store.log.append(("commented", issue.repository, issue.number, text))
        return JSONResponse(comment, status_code=201)

    def route(path: str, handler: Any, methods: list[str]) -> Route:
        return Route(path, guarded(auth, limits, handler, app=False), methods=methods)

    return [
        route(f"{_BASE}/labels", list_labels, ["GET"]),
        route(f"{_BASE}/labels", add_labels, ["POST"]),
        route(f"{_BASE}/labels/{{name:path}}", remove_label, ["DELETE"]),
        route(f"{_BASE}/assignees", assignees, ["POST", "DELETE"]),
        route(f"{_BASE}/comments", comments, ["GET", "POST"]),
    ]
