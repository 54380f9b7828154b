"""The one Jinja2 environment over ``el_monitor/templates``, shared by alerts and the report.

Autoescaping follows the template's name: ``*.html.j2`` is HTML and autoescaped, so a schema
name, a plugin's status line or a validation message stays text; ``*.txt.j2`` is not markup and
is left alone.  A name a template uses but is not given fails the rendering (StrictUndefined)
rather than vanishing from a mail.  Block tags are trimmed so templates can be laid out readably.

Every environment has the shared filters (``cut``); a package passes its own filters and global
names to :func:`environment`.  jinja2 is imported when an environment is built, never on import,
so the check plugins and most commands never pay for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

__all__ = ["HTML_SUFFIXES", "cut", "environment"]

HTML_SUFFIXES = ("html", "html.j2")  # template names ending so are autoescaped


def cut(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the last one ``…`` when anything was cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


SHARED_FILTERS: Mapping[str, Callable[..., str]] = MappingProxyType({"cut": cut})


def environment(
    filters: Mapping[str, Callable[..., Any]] | None = None,
    names: Mapping[str, object] | None = None,
) -> jinja2.Environment:
    """Jinja2 over the package's templates, with the shared filters plus ``filters`` and the
    global ``names`` a package's templates use.  Compile each template once per run: compiling
    costs more than rendering."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("el_monitor", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=HTML_SUFFIXES),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(SHARED_FILTERS)
    env.filters.update(filters or {})
    env.globals.update(names or {})
    return env
