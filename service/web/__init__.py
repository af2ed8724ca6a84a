"""The HTTP edge: webhooks, agent completions, status and metrics."""
