"""A local stand-in for the parts of GitHub's REST API that Switchyard calls.

What it covers and what it does not: ``docs/github-standin.md``.
"""

from service.devtools.github_standin.app import Standin, create_app
from service.devtools.github_standin.ratelimit import LimitSettings

__all__ = ["LimitSettings", "Standin", "create_app"]
