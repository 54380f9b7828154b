"""``el-monitor notify``: one Icinga notification turned into mails to the schemas' owners.

``notification`` (the typed value) → ``culprits`` (which schemas) → ``state`` (mail, hold back
or summarise) → ``routing`` (one mail per owner group) → ``fetch`` (one render query) →
``wording`` with ``advice`` and ``graph`` (an ``AlertContent`` per mail) → ``render`` (text and
HTML) → sent; ``dispatch`` runs the whole and records what went out.
"""
