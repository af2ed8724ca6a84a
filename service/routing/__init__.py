"""Routing: the decision for one event, and sticky issue owners."""
