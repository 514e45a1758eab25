"""Diagnostics are data: stages collect them and never print.

Only the CLI and the language server render them. Every code lives in one
registry (``CODES``) with a one-line doc, which ``netc explain CODE`` prints.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from difflib import get_close_matches
from typing import Iterable

ERROR = "error"
WARNING = "warning"
INFO = "info"

_NEWLINE = re.compile("\n")


@dataclass(frozen=True)
class Span:
    """A region of source text: 1-based lines and columns, end column exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def point(line: int = 1, column: int = 1) -> "Span":
        return Span(line, column, line, column + 1)

    def to(self, other: "Span") -> "Span":
        """The span from the start of self to the end of other."""
        return Span(self.line, self.column, other.end_line, other.end_column)


def line_starts(text: str) -> list[int]:
    """The offset of each line's first character (line 1 at 0); lines end at "\\n" only, as the parser counts them."""
    return [0] + [m.end() for m in _NEWLINE.finditer(text)]


@dataclass(frozen=True)
class Diagnostic:
    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    severity: str
    code: str
    message: str
    hint: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def span(self) -> Span:
        return Span(self.line, self.column, self.end_line, self.end_column)


# code -> (default severity, one-line doc)
CODES: dict[str, tuple[str, str]] = {
    # NC0xx: input and syntax
    "NC000": (ERROR, "netc itself failed on this input: a bug in netc, please report it with the spec."),
    "NC001": (ERROR, "The spec has a syntax error: a token the grammar does not expect here."),
    "NC002": (ERROR, "The spec contains a character that starts no token of the language."),
    "NC003": (ERROR, "The spec ends before a construct is closed (a missing '}' or ')')."),
    "NC004": (ERROR, "The spec nests too deeply or is too large; netc stops at a fixed limit instead of crashing."),
    "NC005": (ERROR, "The spec file cannot be read (missing, a directory, or not UTF-8 text)."),
    # NC1xx: names
    "NC101": (ERROR, "A call names a layer or block that neither netc's catalog nor the file defines."),
    "NC102": (ERROR, "A layer or block call passes an argument name that it does not take."),
    "NC103": (ERROR, "An expression uses a name that is not a parameter in scope."),
    "NC104": (ERROR, "A statement refers to a tensor name that no earlier statement or input defines."),
    "NC105": (ERROR, "Two definitions share one name: models, blocks, parameters, inputs or tensor labels."),
    "NC106": (ERROR, "Blocks call each other in a cycle, so inlining them would never end."),
    "NC107": (ERROR, "The file has no model of the requested name, or several models and none was chosen."),
    "NC108": (ERROR, "A parameter override names a parameter the model does not declare."),
    "NC109": (WARNING, "An input, or a layer's output, never reaches a model output; Keras leaves it out."),
    # NC2xx: values, arguments, types
    "NC201": (ERROR, "An argument or parameter has a value of the wrong type."),
    "NC202": (ERROR, "A call passes too many positional arguments, or one argument twice."),
    "NC203": (ERROR, "A call leaves out an argument that has no default."),
    "NC204": (ERROR, "A value is not one netc knows: a data format, loss, metric, optimizer or fraction."),
    "NC205": (ERROR, "Arithmetic in the spec fails: division by zero, or an operator applied to the wrong types."),
    "NC206": (ERROR, "A statement is used where it has no meaning, like a layer before any input."),
    "NC207": (ERROR, "A setting of a train, search or ensemble directive is missing, unknown or malformed."),
    "NC208": (ERROR, "An ensemble's members cannot share data: their train blocks name different data, or none has any."),
    "NC209": (ERROR, "A tree member of an ensemble needs a package that is not installed (scikit-learn, LightGBM, XGBoost)."),
    # NC3xx: shapes and axes
    "NC301": (ERROR, "The inputs of a merge layer have shapes that cannot be combined."),
    "NC302": (ERROR, "A layer's output would have a dimension of zero or less."),
    "NC303": (ERROR, "A layer receives an input of a rank it cannot take."),
    "NC304": (ERROR, "A normalization axis points at a spatial axis instead of the feature axis."),
    "NC305": (ERROR, "A residual's body changes the shape, and its input (or its shortcut) does not match it."),
    "NC306": (ERROR, "A normalization axis is outside the rank of the layer's input."),
    "NC307": (ERROR, "A layer cannot produce an output for this input shape."),
    # NC4xx: data
    "NC401": (ERROR, "A model's input does not fit the samples its data gives (shape, or number of inputs)."),
    "NC402": (ERROR, "A label is outside the classes the model's output layer can predict."),
    "NC403": (ERROR, "A data file or folder is missing or cannot be read."),
    "NC404": (ERROR, "A data file lacks the key or column that the loader names."),
    "NC405": (ERROR, "The data holds NaN or infinite values."),
    "NC406": (ERROR, "The data is malformed: not numeric, no samples, or inputs and labels of different lengths."),
    # NC5xx: search
    "NC501": (ERROR, "A corner of a search's space (a range's end, a choice) makes the model or train block fail."),
    "NC502": (INFO, "A search space has too many corners to check them all; a fixed sample of them was checked."),
    "NC503": (ERROR, "A search's objective is not a quantity its train block logs (loss, a metric, val_...)."),
}


def make(code: str, message: str, span: Span, file: str = "<string>", hint: str | None = None,
         severity: str | None = None) -> Diagnostic:
    """Build a diagnostic for a registered code; an unknown code is a programming error."""
    default_severity, _ = CODES[code]
    return Diagnostic(file, span.line, span.column, span.end_line, span.end_column,
                      severity or default_severity, code, message, hint)


def explain(code: str) -> str | None:
    entry = CODES.get(code.upper())
    return None if entry is None else f"{code.upper()} ({entry[0]}): {entry[1]}"


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelt name, ignoring case, or None."""
    candidates = list(candidates)
    by_lower = {c.lower(): c for c in candidates}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    found = get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[found[0]] if found else None


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == ERROR for d in diagnostics)


class SpecError(Exception):
    """Raised by the compile entry points when a spec has errors; carries the diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = list(diagnostics)
        errors = [d for d in self.diagnostics if d.severity == ERROR]
        first = errors[0] if errors else (self.diagnostics[0] if self.diagnostics else None)
        summary = (f"{first.file}:{first.line}:{first.column}: {first.code}: {first.message}"
                   if first else "spec has errors")
        more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
        super().__init__(summary + more)
