"""The delivery reconciler: what GitHub failed to deliver to Switchyard, redelivered."""

from service.github.reconciler.ledger import COUNTERS, Ledger
from service.github.reconciler.loop import reconcile_periodically
from service.github.reconciler.run import HookReport, Reconciler, RunReport

__all__ = [
    "COUNTERS",
    "HookReport",
    "Ledger",
    "Reconciler",
    "RunReport",
    "reconcile_periodically",
]
