"""Interactive widgets for the notebooks, one submodule per lesson.

Every widget wraps a pure function that returns a figure or numbers (tested without a browser by
setting a control's ``.value`` and checking :attr:`Explorer.result`); sliders that run the model use
``continuous_update=False``. :class:`Explorer` is the shared plumbing.
"""
from __future__ import annotations

from base64 import b64encode
from io import BytesIO
from typing import Any, Callable

import ipywidgets as widgets
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import Image, display
from matplotlib import pyplot as plt
from matplotlib.figure import Figure


def figure_as_png(figure: Figure) -> Image:
    """A figure as a PNG image, displayable the same way whatever matplotlib backend the kernel uses."""
    buffer = BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return Image(data=buffer.getvalue(), format="png")


class Explorer:
    """Controls wired to a pure function: any change calls ``function(**values)`` and shows its result.

    ``result`` always holds the latest return value, so a test can set ``controls[name].value`` and
    check it. Display the explorer by leaving it as the last expression of a cell.
    """

    def __init__(self, function: Callable[..., Any], controls: dict[str, widgets.ValueWidget], title: str = ""):
        self.function = function
        self.controls = controls
        self.output = widgets.Output()
        self.result: Any = None
        self.calls = 0
        for control in controls.values():
            control.observe(self.update, names="value")
        header = [widgets.HTML(f"<b>{title}</b>")] if title else []
        self.widget = widgets.VBox(header + [widgets.HBox(list(controls.values())), self.output])
        self.update()

    def values(self) -> dict[str, Any]:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def update(self, _change: object = None) -> None:
        """Recompute the result for the current values and redraw the output.

        The output's contents are set from the kernel rather than captured with ``with output:``: a
        headless runner (nbclient, hence nbgrader's autograder) imitates a captured Output widget by
        sending messages back on the kernel's shell channel, which sometimes stalls the next cell for
        a whole cell timeout (jupyter/nbclient issue 312). Set from here, a browser and a runner both
        just receive the new contents.
        """
        if isinstance(self.result, Figure):
            plt.close(self.result)
        self.result = self.function(**self.values())
        self.calls += 1
        shown = figure_as_png(self.result) if isinstance(self.result, Figure) else self.result
        data, metadata = InteractiveShell.instance().display_formatter.format(shown)
        # Raw bytes (a _repr_png_) would travel as a binary buffer, which the output area cannot draw: send base64.
        data = {kind: b64encode(value).decode("ascii") if isinstance(value, bytes) else value for kind, value in data.items()}
        self.output.outputs = ({"output_type": "display_data", "data": data, "metadata": metadata},)  # one message
        if isinstance(self.result, Figure):
            plt.close(self.result)  # shown once in the output, not again by the inline backend

    def _ipython_display_(self) -> None:
        display(self.widget)
