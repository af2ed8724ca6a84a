"""Every Redis key Switchyard uses, named once (one list on purpose, hence over 300 lines).

All keys live under one prefix (``SWITCHYARD_REDIS_PREFIX``, ``switchyard`` by default; tests
use a fresh sub-prefix each). ``Keys(prefix)`` spells them; nothing else in the code base
builds a key string (``tests/test_keys.py`` greps for strays). An issue inside a key is
``{repository}#{number}``; a system is its value (``typescript``, ``python``).

Key, type, owner module:

- ``events`` (stream), ``dead-letters`` (stream), ``delivery:[{hook}:]{id}`` (dedupe mark),
  ``handed-over:{id}``: ``service.pipeline.stream``
- ``job:{id}`` (hash), ``inflight:{issue}`` (set): ``service.pipeline.jobs``
- ``lock:{issue}``, ``lock-fence``: ``service.pipeline.issue_lock``
- ``owner:{issue}`` (hash), ``owners:{system}`` (set), ``fence``, ``ownership-log`` (stream):
  ``service.routing.ownership``
- ``routing:counts`` (hash), ``routing:recent`` (list), ``routing:counted:{delivery}``:
  ``service.routing.router``
- ``webhooks:counts`` (hash): ``service.web.webhooks``; ``webhooks:{system}:counts`` (hash):
  ``service.web.app_webhooks``
- ``triggers:counts`` (hash), ``trigger-applied:{system}:{issue}``: ``service.agents.triggers``
- ``app-gate:counts`` (hash), ``app-last-issues:{system}:{issue}`` (hash),
  ``app-forwarded:{system}:{role}:{delivery}``: ``service.agents.github_app.gate``
- ``completions``, ``quality``, ``comparisons`` (streams), ``completion-seen:{job}``,
  ``quality-seen:{delivery}``, ``quality:unattributed`` (hash), ``pr:{repository}#{pr}``,
  ``pair:{delivery}:{issue}``, ``comparisons:mismatches`` (list): ``service.outcomes.recorder``
- ``histogram:{system}:{role}`` (hash): ``service.outcomes.histogram``
- ``outcome-awaiting:{system}`` (sorted set), ``outcome-settled:{system}:{issue}``:
  ``service.outcomes.from_github``
- ``rm:{m|h|d}:{start}`` (hash), ``rm:rebuild`` (set): ``service.outcomes.buckets``, ``read_model``
- ``reconciler:since``, ``:counts``, ``:last-run``, ``:gap:{guid}``, ``:claim:{guid}``,
  ``:leader``: ``service.github.reconciler``
- ``health:{component}:latest``, ``:history`` (list), ``:consecutive-failures``,
  ``health:lease``: ``service.health.monitor``
- ``watchdog:state`` (hash), ``watchdog:lease``, ``watchdog:since``, ``watchdog:cooldown``,
  ``watchdog:fold`` (hash), ``watchdog:fold-started``: ``service.watchdog``
- ``brake:override``, ``brake:sync-claim``: ``service.migration.brake``
- ``audit`` (stream), ``unleash-events-cursor``, ``unleash-own-events`` (set),
  ``flags-changed`` (pub/sub channel): ``service.migration``
- ``plan:current`` (hash), ``plan:timeline`` (list), ``plan:fold`` (hash): ``service.plan``
- ``notify:events`` (hash), ``notify:due`` (sorted set), ``notify:deliveries`` (hash):
  ``service.notify.outbox``
- ``dashboard:session:{id}``: ``service.dashboard.auth``; ``dashboard:login-failures:{client}``,
  ``dashboard:login-counts`` (hash): ``service.dashboard.throttle``
- ``xadd-floor``: ``bench/intake.py``'s bare-append floor; ``ready``, ``go``: test barriers
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from flags.model import Issue, System

__all__ = ["OUTCOME_STREAMS", "Keys", "OutcomeStream"]

OutcomeStream: TypeAlias = Literal["completions", "quality", "comparisons"]
OUTCOME_STREAMS: tuple[OutcomeStream, ...] = ("completions", "quality", "comparisons")


@dataclass(frozen=True, slots=True)
class Keys:
    """The Redis keys under ``prefix``."""

    prefix: str

    def _key(self, *parts: object) -> str:
        return ":".join([self.prefix, *(str(part) for part in parts)])

    def scoped(self, name: str) -> Keys:
        """The keys under the nested prefix ``{prefix}:{name}`` (a test's own, a bench run's)."""
        return Keys(self._key(name))

    @property
    def pattern(self) -> str:
        """``SCAN`` pattern matching every key under the prefix."""
        return self._key("*")

    # --- intake and pipeline -------------------------------------------------------------
    @property
    def events(self) -> str:
        return self._key("events")

    @property
    def dead_letters(self) -> str:
        return self._key("dead-letters")

    def delivery(self, delivery_id: str, *, hook: str | None = None) -> str:
        """The dedupe mark of a delivery (its first stream entry id); per hook when given."""
        if hook is not None:
            return self._key("delivery", hook, delivery_id)
        return self._key("delivery", delivery_id)

    def handed_over(self, delivery_id: str) -> str:
        return self._key("handed-over", delivery_id)

    def job(self, job_id: str) -> str:
        return self._key("job", job_id)

    def inflight(self, issue: Issue) -> str:
        return self._key("inflight", issue)

    def lock(self, issue: Issue) -> str:
        return self._key("lock", issue)

    @property
    def lock_fence(self) -> str:
        return self._key("lock-fence")

    @property
    def webhook_counts(self) -> str:
        return self._key("webhooks", "counts")

    def app_webhook_counts(self, system: System | str) -> str:
        """How many of an App's own deliveries (``/webhooks/github/{system}``) ended how."""
        return self._key("webhooks", system, "counts")

    # --- label / assignee triggers -------------------------------------------------------
    @property
    def trigger_counts(self) -> str:
        return self._key("triggers", "counts")

    def trigger_applied(self, system: System | str, issue: Issue) -> str:
        """Set once a system's trigger (label, assignee) is on the issue at GitHub."""
        return self._key("trigger-applied", system, issue)

    # --- github-app gate -----------------------------------------------------------------
    @property
    def app_gate_counts(self) -> str:
        return self._key("app-gate", "counts")

    def app_last_issues(self, issue: Issue, system: System | str) -> str:
        """The last ``issues`` delivery an App sent about an issue."""
        return self._key("app-last-issues", system, issue)

    def app_forwarded(self, hook: System | str, role: str, delivery_id: str) -> str:
        """The mark of a delivery forwarded to an App in a role."""
        return self._key("app-forwarded", hook, role, delivery_id)

    # --- routing and ownership -----------------------------------------------------------
    def owner(self, issue: Issue) -> str:
        return self._key("owner", issue)

    def owners(self, system: System | str) -> str:
        return self._key("owners", system)

    @property
    def fence(self) -> str:
        return self._key("fence")

    @property
    def ownership_log(self) -> str:
        return self._key("ownership-log")

    @property
    def routing_counts(self) -> str:
        return self._key("routing", "counts")

    @property
    def routing_recent(self) -> str:
        return self._key("routing", "recent")

    def routing_counted(self, delivery_id: str) -> str:
        return self._key("routing", "counted", delivery_id)

    # --- outcomes ------------------------------------------------------------------------
    @property
    def completions(self) -> str:
        return self._key("completions")

    @property
    def quality(self) -> str:
        return self._key("quality")

    @property
    def comparisons(self) -> str:
        return self._key("comparisons")

    def completion_seen(self, job_id: str) -> str:
        return self._key("completion-seen", job_id)

    def quality_seen(self, delivery_id: str) -> str:
        return self._key("quality-seen", delivery_id)

    @property
    def quality_unattributed(self) -> str:
        return self._key("quality", "unattributed")

    def pr(self, repository: str, pr_number: int) -> str:
        """The issue a pull request resolves."""
        return self._key("pr", f"{repository}#{pr_number}")

    @property
    def recent_mismatches(self) -> str:
        """The newest shadow mismatches (list, capped), so a status read never scans."""
        return self._key("comparisons", "mismatches")

    def pair(self, delivery_id: str, issue: Issue) -> str:
        """The two outcomes of a shadowed delivery, waiting for their comparison."""
        return self._key("pair", delivery_id, issue)

    def histogram(self, system: System, role: str) -> str:
        return self._key("histogram", system.value, role)

    def outcome_awaiting(self, system: System | str) -> str:
        """Issues whose outcome ``system`` (no callbacks) owes, by dispatch time (sorted set)."""
        return self._key("outcome-awaiting", system)

    def outcome_settled(self, system: System | str, issue: Issue) -> str:
        return self._key("outcome-settled", system, issue)

    def outcome_stream(self, name: OutcomeStream) -> str:
        """``completions``, ``quality`` or ``comparisons`` by name."""
        return self._key(name)

    def read_model_bucket(self, resolution: str, start: int) -> str:
        """A pre-aggregated bucket of the outcome read model (``m``, ``h``, ``d``)."""
        return self._key("rm", resolution, start)

    @property
    def read_model_rebuild(self) -> str:
        """The set of bucket keys found corrupt, waiting to be rebuilt from the streams."""
        return self._key("rm", "rebuild")

    # --- delivery reconciler --------------------------------------------------------------
    @property
    def reconciler_since(self) -> str:
        return self._key("reconciler", "since")

    @property
    def reconciler_counts(self) -> str:
        return self._key("reconciler", "counts")

    @property
    def reconciler_last_run(self) -> str:
        return self._key("reconciler", "last-run")

    def reconciler_gap(self, guid: str) -> str:
        return self._key("reconciler", "gap", guid)

    def reconciler_claim(self, guid: str) -> str:
        return self._key("reconciler", "claim", guid)

    @property
    def reconciler_leader(self) -> str:
        return self._key("reconciler", "leader")

    # --- health and watchdog -------------------------------------------------------------
    def health_latest(self, component: str) -> str:
        return self._key("health", component, "latest")

    def health_history(self, component: str) -> str:
        return self._key("health", component, "history")

    def health_failures(self, component: str) -> str:
        """Consecutive failed health checks of ``component``."""
        return self._key("health", component, "consecutive-failures")

    @property
    def health_lease(self) -> str:
        """Held by the one health monitor that probes (see :mod:`service.health.monitor`)."""
        return self._key("health", "lease")

    @property
    def watchdog_state(self) -> str:
        return self._key("watchdog", "state")

    @property
    def watchdog_lease(self) -> str:
        return self._key("watchdog", "lease")

    @property
    def watchdog_since(self) -> str:
        """The evidence epoch: outcomes before it do not count (restarted on leaving a rollback)."""
        return self._key("watchdog", "since")

    @property
    def watchdog_cooldown(self) -> str:
        return self._key("watchdog", "cooldown")

    @property
    def watchdog_fold(self) -> str:
        """The watchdog's evidence folded incrementally, with its stream cursors."""
        return self._key("watchdog", "fold")

    @property
    def watchdog_fold_started(self) -> str:
        return self._key("watchdog", "fold-started")

    # --- migration control ---------------------------------------------------------------
    @property
    def brake_override(self) -> str:
        """The break-glass override every process honours (set when Unleash is unreachable)."""
        return self._key("brake", "override")

    @property
    def brake_sync_claim(self) -> str:
        return self._key("brake", "sync-claim")

    @property
    def audit(self) -> str:
        return self._key("audit")

    @property
    def unleash_events_cursor(self) -> str:
        return self._key("unleash-events-cursor")

    @property
    def unleash_own_events(self) -> str:
        return self._key("unleash-own-events")

    @property
    def flags_changed(self) -> str:
        """The pub/sub channel every process's flag cache listens on."""
        return self._key("flags-changed")

    # --- rollout plan and notifications ---------------------------------------------------
    @property
    def plan_current(self) -> str:
        """Hash: ``version`` and ``record`` (the one current plan, JSON)."""
        return self._key("plan", "current")

    @property
    def plan_timeline(self) -> str:
        """List, newest first: every transition of every plan, with its evidence (JSON)."""
        return self._key("plan", "timeline")

    @property
    def plan_fold(self) -> str:
        """Hash: the current step's outcome counters and the stream cursors read so far."""
        return self._key("plan", "fold")

    @property
    def notify_events(self) -> str:
        """Hash: event id -> the notification (JSON); a second publish of an id is dropped."""
        return self._key("notify", "events")

    @property
    def notify_due(self) -> str:
        """Sorted set: ``{event id}|{receiver}`` scored by when its next attempt is due
        (receiver ``*``: published, not yet expanded by the deliverer)."""
        return self._key("notify", "due")

    @property
    def notify_deliveries(self) -> str:
        """Hash: ``{event id}|{receiver}`` -> its state (attempts, status, last error), JSON."""
        return self._key("notify", "deliveries")

    # --- dashboard -----------------------------------------------------------------------
    def dashboard_session(self, session_id: str) -> str:
        return self._key("dashboard", "session", session_id)

    def login_failures(self, client: str) -> str:
        return self._key("dashboard", "login-failures", client)

    @property
    def login_counts(self) -> str:
        return self._key("dashboard", "login-counts")

    # --- benchmarks and tests ------------------------------------------------------------
    @property
    def xadd_floor(self) -> str:
        """The stream ``bench/intake.py`` appends to bare, for the floor of one XADD."""
        return self._key("xadd-floor")

    @property
    def barrier_ready(self) -> str:
        """Test barrier: each process pushes here when it is ready."""
        return self._key("ready")

    @property
    def barrier_go(self) -> str:
        """Test barrier: the test pushes one ``go`` per waiting process."""
        return self._key("go")
