"""GitHub's side: signed intake, typed events, and the issues that PRs and CI link to."""
