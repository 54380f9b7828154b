"""The catalog: per-schema policy that does not belong in the schema itself (one TOML file).

``model`` holds the loaded values (``Catalog``, ``SchemaPolicy``); ``load`` reads a file and
walks its tables; ``checker`` collects every problem as FILE:LINE (``tomllines`` finds the
lines), ``policies`` checks ``[defaults]`` and ``[schema.<Name>]``, and ``mail_settings`` the
``[smtp]`` and ``[alerts]`` tables, whose values (``mail.settings``) notify and report use, and
``backup_settings`` the ``[backup]`` hops that ``backup verify`` checks.
"""
