"""PNG figures for mails, drawn with matplotlib: the one place el-monitor sets it up.

matplotlib costs a few hundred milliseconds to import, so it is imported inside these
functions, when something is drawn: the check plugins and most commands never pay for it.
Figures use the object API (``Figure`` with an Agg canvas), never ``pyplot``, whose process-wide
registry of open figures a long-running caller would leak and threads would share.  The PNG
carries no metadata (matplotlib writes its version as ``Software``): smaller, and the same data
draws the same bytes.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, NamedTuple

from el_monitor.errors import UserError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Png", "new_figure", "plain", "png", "require_matplotlib"]


def require_matplotlib(command: str) -> None:
    """Fail in one line, before any work, when matplotlib (the ``mail`` extra, which a host
    running only the check plugins goes without) is not installed."""
    try:
        import matplotlib  # noqa: F401 - only whether it imports
    except ImportError:
        raise UserError(
            f"{command} draws graphs with matplotlib, which is not installed: "
            "pip install 'el-monitor[mail]'"
        ) from None


class Png(NamedTuple):
    """A drawn figure: PNG bytes and its size in pixels."""

    data: bytes
    width: int
    height: int


def new_figure(width: float, height: float, dpi: float) -> Figure:
    """An empty figure of ``width`` x ``height`` inches on its own Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def png(figure: Figure) -> Png:
    """The figure as PNG at its own resolution, without metadata."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi="figure", metadata={"Software": None})
    width, height = figure.canvas.get_width_height()
    return Png(buffer.getvalue(), width, height)


def plain(text: str) -> str:
    """Text as matplotlib draws it literally: a ``$`` would start mathtext (``$.action``)."""
    return text.replace("$", r"\$")
