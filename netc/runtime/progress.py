"""Per-epoch progress: the keras callback that reports each epoch, and the displays the CLI shows.

The runtime hands plain ``EpochReport``s to whatever ``on_epoch`` it was given
and prints nothing itself; the CLI shows them with rich on a terminal, or as
one line per epoch when the output is a file or a pipe (logs stay readable).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class EpochReport:
    epoch: int                  # 1-based
    epochs: int                 # planned
    logs: dict[str, float]      # loss, metrics, val_ metrics as Keras logs them
    seconds: float              # this epoch's wall time


def make_recorder(epochs: int, on_epoch: Callable[[EpochReport], None] | None):
    """A keras Callback that keeps every epoch's logs (even if fit is interrupted) and reports each epoch."""
    import keras

    class EpochRecorder(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.history: dict[str, list[float]] = {}
            self.epochs_run = 0
            self._start = time.perf_counter()

        def on_train_begin(self, logs=None):
            start = getattr(on_epoch, "start", None)  # a display that wants to know the epochs up front
            if start is not None:
                start(epochs)

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            for key, value in logs.items():
                self.history.setdefault(key, [float("nan")] * self.epochs_run).append(value)
            self.epochs_run += 1
            if on_epoch is not None:
                on_epoch(EpochReport(epoch + 1, epochs, logs, time.perf_counter() - self._start))

    return EpochRecorder()


def format_logs(logs: dict[str, float]) -> str:
    """loss 0.512  accuracy 0.831  val_loss 0.60 ...: training values, then validation, then the learning rate."""
    keys = sorted(logs, key=lambda k: (k == "learning_rate", k.startswith("val_"), k not in ("loss", "val_loss"), k))
    return "  ".join(f"{k} {logs[k]:.4g}" for k in keys)


class LineDisplay:
    """One line per epoch: for logs, CI and pipes."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, report: EpochReport) -> None:
        width = len(str(report.epochs))
        print(f"epoch {report.epoch:>{width}}/{report.epochs}  {format_logs(report.logs)}  {report.seconds:.1f}s",
              file=self.stream, flush=True)


@dataclass
class RichDisplay:
    """A live bar (epoch i/N, elapsed, remaining) under one printed line per epoch with the loss and metrics."""

    stream: object = None
    title: str = "training"
    _progress: object = field(default=None, init=False)
    _task: object = field(default=None, init=False)

    def __enter__(self):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        console = Console(file=self.stream or sys.stderr)
        self._progress = Progress(TextColumn("[bold]{task.description}"), TextColumn("epoch {task.fields[at]}"),
                                  BarColumn(bar_width=30), TimeElapsedColumn(), TextColumn("eta"),
                                  TimeRemainingColumn(), console=console, transient=True)
        self._progress.__enter__()
        self._task = self._progress.add_task(self.title, total=None, at="")
        return self

    def __exit__(self, *exc):
        self._progress.__exit__(*exc)
        return False

    def start(self, epochs: int) -> None:
        """Called when fit starts, before the first epoch ends."""
        self._progress.reset(self._task, total=epochs, at=f"0/{epochs}")  # the clock starts with training

    def __call__(self, report: EpochReport) -> None:
        width = len(str(report.epochs))
        self._progress.console.print(f"[bold]epoch {report.epoch:>{width}}/{report.epochs}[/]  "
                                     f"{format_logs(report.logs)}  [dim]{report.seconds:.1f}s[/]", highlight=False)
        self._progress.update(self._task, completed=report.epoch, total=report.epochs,
                              at=f"{report.epoch}/{report.epochs}")


def display_for(stream=None, title: str = "training"):
    """A rich display on a terminal, else one line per epoch."""
    from rich.console import Console

    stream = stream or sys.stderr
    return RichDisplay(stream, title) if Console(file=stream).is_terminal else LineDisplay(stream)
