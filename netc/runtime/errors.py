"""The errors of training: data that does not fit the spec.

A ``DataError`` is a ``SpecError`` with one diagnostic: it points at the loader
call in the spec and names the data file and the problem, so the CLI shows it
like any other diagnostic (no traceback) and API users catch one exception type.
"""
from __future__ import annotations

from netc import diagnostics as dg
from netc.diagnostics import Diagnostic, SpecError, Span


class DataError(SpecError):
    """Bad data for a train block: a missing file, key or column, a bad label or shape, NaN."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__([diagnostic])
        self.diagnostic = diagnostic


def data_error(code: str, message: str, span: Span, spec_file: str, hint: str | None = None) -> DataError:
    """A DataError for a registered NC4xx code, located at a loader call of ``spec_file``."""
    return DataError(dg.make(code, message, span, spec_file, hint))
