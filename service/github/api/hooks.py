"""Which GitHub webhook a delivery list belongs to, parsed from ``SWITCHYARD_GITHUB_HOOKS``.

A hook is written the way GitHub's REST API paths spell it::

    repos/acme/app/hooks/123     a repository webhook  (GET /repos/acme/app/hooks/123/deliveries)
    orgs/acme/hooks/7            an organisation webhook
    app                          the GitHub App's own webhook (GET /app/hook/deliveries, App JWT)

A gated App's own webhook (a ``github-app`` system whose App credentials are configured) is not
written there: :meth:`HookRef.gated_app` names it ``app:<system>``, its deliveries are listed
with that App's JWT, and what Switchyard stored of them is found under the system's intake
(``POST /webhooks/github/{system}``).

:func:`parse_hooks` takes a comma-separated list of these and refuses anything else with a
:class:`ValueError` naming the bad entry. Owner and repository names are checked against
GitHub's own rules, so nothing from the variable reaches a URL unchecked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["HookRef", "parse_hook", "parse_hooks"]

HookKind = Literal["repo", "org", "app"]

# GitHub: logins are alphanumeric or single hyphens, at most 39 characters; repository names
# are letters, digits, '.', '-' and '_', at most 100 characters, and not '.' or '..'.
_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"
_REPO = r"[A-Za-z0-9._-]{1,100}"
_ID = r"[1-9][0-9]{0,18}"
_REPO_HOOK = re.compile(rf"repos/(?P<owner>{_OWNER})/(?P<repo>{_REPO})/hooks/(?P<id>{_ID})")
_ORG_HOOK = re.compile(rf"orgs/(?P<owner>{_OWNER})/hooks/(?P<id>{_ID})")


@dataclass(frozen=True, slots=True)
class HookRef:
    """One webhook whose deliveries can be listed and redelivered."""

    kind: HookKind
    owner: str | None = None
    repo: str | None = None
    hook_id: int | None = None
    system: str | None = None  # a gated App's hook: the system whose App it is

    @classmethod
    def gated_app(cls, system: str) -> HookRef:
        """The own webhook of ``system``'s GitHub App (gated at ``/webhooks/github/{system}``)."""
        return cls("app", system=system)

    @property
    def path(self) -> str:
        """The hook's REST path without a leading slash: ``repos/acme/app/hooks/123``."""
        if self.kind == "repo":
            return f"repos/{self.owner}/{self.repo}/hooks/{self.hook_id}"
        if self.kind == "org":
            return f"orgs/{self.owner}/hooks/{self.hook_id}"
        return "app/hook"

    @property
    def spec(self) -> str:
        """How the hook is written in ``SWITCHYARD_GITHUB_HOOKS`` (and named in metrics);
        ``app:<system>`` for a gated App's hook."""
        if self.kind == "app":
            return "app" if self.system is None else f"app:{self.system}"
        return self.path

    @property
    def intake_hook(self) -> str | None:
        """Under which hook Switchyard's intake deduplicates this hook's deliveries (None:
        Switchyard's own ``/webhooks/github``)."""
        return self.system

    @property
    def as_app(self) -> bool:
        """True when the hook's endpoints take the App's JWT rather than a token."""
        return self.kind == "app"

    @property
    def deliveries_url(self) -> str:
        return f"/{self.path}/deliveries"

    def attempts_url(self, delivery_id: int) -> str:
        return f"/{self.path}/deliveries/{int(delivery_id)}/attempts"


def parse_hook(spec: str) -> HookRef:
    text = spec.strip().strip("/")
    if text == "app":
        return HookRef("app")
    if match := _REPO_HOOK.fullmatch(text):
        if match["repo"] in {".", ".."}:
            raise ValueError(f"not a repository name: {match['repo']!r}")
        return HookRef("repo", match["owner"], match["repo"], int(match["id"]))
    if match := _ORG_HOOK.fullmatch(text):
        return HookRef("org", match["owner"], None, int(match["id"]))
    raise ValueError(
        f"not a webhook: {spec[:120]!r} (expected repos/OWNER/REPO/hooks/ID, orgs/ORG/hooks/ID"
        " or app)"
    )


def parse_hooks(text: str) -> tuple[HookRef, ...]:
    """Every hook of a comma-separated list, in order, each once."""
    hooks: list[HookRef] = []
    for part in text.split(","):
        if part.strip():
            hook = parse_hook(part)
            if hook not in hooks:
                hooks.append(hook)
    return tuple(hooks)
