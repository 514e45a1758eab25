"""learning_curves.png: the loss and each metric per epoch, training against validation.

Drawn with matplotlib's object API on an Agg canvas, without pyplot, so a run
neither needs a display nor changes the matplotlib backend of the caller
(a notebook keeps its own).
"""
from __future__ import annotations

from pathlib import Path


def plot_learning_curves(history: dict[str, list[float]], path: Path, title: str) -> None:
    """One panel per quantity (loss first), training and validation curves in each."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    names = [k for k in history if not k.startswith("val_") and k != "learning_rate"]
    names.sort(key=lambda k: (k != "loss", k))
    epochs = list(range(1, len(next(iter(history.values()), [])) + 1))
    figure = Figure(figsize=(4.5 * max(1, len(names)), 3.6))  # fixed margins: a layout engine triples the time
    FigureCanvasAgg(figure)
    for i, name in enumerate(names or ["loss"]):
        axes = figure.add_subplot(1, max(1, len(names)), i + 1)
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            if key in history:
                axes.plot(epochs, history[key], marker="o" if len(epochs) < 30 else None, markersize=3, label=label)
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_title(name)
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend()
    figure.suptitle(title)
    figure.subplots_adjust(left=0.08 if len(names) > 1 else 0.14, right=0.97, bottom=0.15, top=0.82, wspace=0.25)
    figure.savefig(path, dpi=100)
