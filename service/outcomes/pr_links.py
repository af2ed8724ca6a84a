"""Which issue a pull request resolves, and which system owns it: the attribution of PR and CI
quality (:class:`~service.outcomes.recorder.OutcomeRecorder`).

A PR number an agent reported at completion is linked to its issue (``Keys.pr``); a PR that no
completion named is attributed through its closing keywords (``Fixes #12``) to the issue's
current owner.
"""

from __future__ import annotations

from redis.asyncio import Redis

from flags.model import Issue, System
from service.keys import Keys
from service.routing.ownership import OwnershipStore

__all__ = ["PullRequestLinks"]


class PullRequestLinks:
    """PR -> (issue, system) over Redis."""

    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._keys = Keys(prefix)
        self._owners = OwnershipStore(redis, prefix=prefix)

    async def link(self, issue: Issue, pr_number: int, system: System) -> None:
        """Remember that ``system`` opened PR ``pr_number`` for ``issue``."""
        await self._redis.hset(
            self._keys.pr(issue.repository, pr_number),
            mapping={"issue_number": str(issue.number), "system": system.value},
        )

    async def resolve(
        self, repository: str, pr_numbers: tuple[int, ...], linked: tuple[int, ...]
    ) -> tuple[Issue, str] | None:
        """The issue a PR resolves and the system that owns it."""
        for pr_number in pr_numbers:
            known = await self._redis.hgetall(self._keys.pr(repository, pr_number))
            if known:
                return Issue(repository, int(known["issue_number"])), str(known["system"])
        for number in linked:
            issue = Issue(repository, number)
            owner = await self._owners.owner(issue)
            if owner is not None:
                return issue, owner.system.value
        return None
