"""Notifications: subscriptions, the event outbox, and their delivery by email and signed webhooks."""
