"""The ``github-label`` and ``github-assignee`` kinds: Switchyard pulls a bot's trigger."""
