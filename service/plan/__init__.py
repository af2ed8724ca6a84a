"""The rollout plan: its model and validation, promotion windows, the pure controller decision,
the store in Redis and the controller loop the watchdog runs."""
