"""The ``github-app`` kind: Switchyard gates a GitHub App's own webhook (see ``gate``)."""
