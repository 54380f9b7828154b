"""Schemas: registries (``registry``: a directory or an HTTP repository), draft translation
(``draft``), compiled schemas (``compiled``), and the validator compiled to Python once per
revision: its generator (``generator``, ``keywords``, ``codewriter``) apart from the helpers
the generated code calls at run time (``runtime``), preceded where the schema allows by
msgspec's check in C (``typed``); every error of a rejected event, with
the schema's descriptions, for people fixing it (``explain``)."""
