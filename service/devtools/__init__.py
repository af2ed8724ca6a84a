"""Development tooling: the local stack, the demo, the agent simulator and test helpers."""
