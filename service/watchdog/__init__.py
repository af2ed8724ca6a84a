"""The watchdog: its loop, the evidence it gathers and the verdict it reaches."""
