"""Change notifications: signed webhooks (Standard Webhooks) and the change feed, both read from the audit log."""
