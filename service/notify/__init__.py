"""Notifications: one outbox in Redis for plan events and watchdog rollbacks, and its senders
(a generic JSON webhook signed with HMAC-SHA256, and a Slack-compatible incoming webhook)."""
