"""Outbound mail shared by notify and report: the ``[smtp]``/``[alerts]`` settings (``settings``),
sending (``smtp``), building a message (``message``), redaction for anything mailed (``redact``),
the one Jinja2 environment (``templates``) and the matplotlib PNG helpers (``figures``)."""
