"""GitHub's REST API for Switchyard: the client, its credentials and the webhooks it knows."""

from service.github.api.auth import AppCredentials, Credentials, TokenCredentials
from service.github.api.client import DEFAULT_API_URL, GitHubClient
from service.github.api.hooks import HookRef, parse_hooks
from service.github.api.ratelimit import RateLimitPolicy

__all__ = [
    "DEFAULT_API_URL",
    "AppCredentials",
    "Credentials",
    "GitHubClient",
    "HookRef",
    "RateLimitPolicy",
    "TokenCredentials",
    "parse_hooks",
]
