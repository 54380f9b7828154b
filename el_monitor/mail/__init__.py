"""Outbound mail shared by notify and report: SMTP, messages, redaction."""
