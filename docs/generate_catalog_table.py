"""Generate the tables of docs/language.md from netc's own registries, so they stay exact.

    python docs/generate_catalog_table.py                 # print every table
    python docs/generate_catalog_table.py layers          # print one table
    python docs/generate_catalog_table.py --write         # refresh docs/language.md and docs/cli.md
    python docs/generate_catalog_table.py --check         # exit 1 when they are out of date

A table lives in docs/language.md between ``<!-- generated:NAME -->`` and
``<!-- end generated:NAME -->``; ``--write`` replaces what is between them.
It also reruns the examples of both documents: a ```net block followed by a
```text block that starts with ``$ netc check FILE.net`` gets that command's
real output; every other ```net block must check clean (``--check`` says
which does not). Nothing here imports a framework.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netc.catalog import LAYERS  # noqa: E402
from netc.catalog import training as cat  # noqa: E402
from netc.catalog.spec import COMMON_ARGS  # noqa: E402
from netc.catalog.types import NONE, describe_value  # noqa: E402
from netc.diagnostics import CODES  # noqa: E402

DOC = ROOT / "docs" / "language.md"
DOCS = (DOC, ROOT / "docs" / "cli.md")


def _code_list(words) -> str:
    return ", ".join(f"`{w}`" for w in words)


def diagnostics() -> str:
    rows = ["| Code | Severity | Meaning |", "|---|---|---|"]
    rows += [f"| {code} | {severity} | {doc} |" for code, (severity, doc) in CODES.items()]
    return "\n".join(rows)


def layers() -> str:
    out: list[str] = []
    families: dict[str, list] = {}
    for spec in LAYERS.values():
        families.setdefault(spec.category, []).append(spec)
    for family, specs in families.items():
        out += [f"**{family}** ({len(specs)})", "", "| Layer | Arguments, in Keras's positional order |", "|---|---|"]
        for spec in specs:
            names = []
            for a in spec.args:
                if a.required:
                    names.append(f"**{a.name}**")
                elif a.type == NONE:
                    names.append(f"*{a.name}*")
                else:
                    names.append(a.name)
            extra = ""
            if spec.without_common:
                extra = " (no " + ", ".join(f"`{n}`" for n in spec.without_common) + ")"
            out.append(f"| `{spec.name}`{extra} | {', '.join(names) or '—'} |")
        out.append("")
    several = [s.name for s in LAYERS.values() if s.inputs == "many"]
    attention = [s.name for s in LAYERS.values() if s.inputs == "attention"]
    out.append(f"{len(LAYERS)} layers. Layers that take a list of inputs (with `<-` or as a `branch` merge): "
               f"{_code_list(several)}. Called as (query, value[, key]): {_code_list(attention)}.")
    return "\n".join(out)


def common_args() -> str:
    return ", ".join(f"`{a.name}` (default `{describe_value(a.default)}`)" for a in COMMON_ARGS)


def _call_table(table: dict, what: str) -> str:
    rows = [f"| {what} | Arguments (default) | What it is |", "|---|---|---|"]
    for spec in table.values():
        args = ", ".join(f"`{a.name}`" if a.required else f"`{a.name}={describe_value(a.default)}`"
                         for a in spec.args)
        rows.append(f"| `{spec.name}` | {args or '—'} | {spec.doc} |")
    return "\n".join(rows)


def loaders() -> str:
    return _call_table(cat.LOADERS, "Loader")


def optimizers() -> str:
    return _call_table(cat.OPTIMIZERS, "Optimizer")


def callbacks() -> str:
    return _call_table(cat.CALLBACKS, "Callback")


def distributions() -> str:
    return _call_table(cat.DISTRIBUTIONS, "Distribution")


def trees() -> str:
    return _call_table(cat.TREES, "Tree member")


def words() -> str:
    return "\n".join([
        f"- `strategy`: {_code_list(cat.SEARCH_STRATEGIES)}",
        f"- `prune`: {_code_list(cat.PRUNERS)}",
        f"- `weights` (ensemble): {_code_list(cat.ENSEMBLE_WEIGHTS)}",
        f"- objective directions: {_code_list(cat.DIRECTIONS)}",
        f"- `loss`: {_code_list(cat.LOSSES)}",
        f"- `metrics`: {_code_list(cat.METRICS)}",
    ])


def settings() -> str:
    return "\n".join([
        f"- `train`: {_code_list(cat.TRAIN_SETTINGS)}",
        f"- `search`: {_code_list(cat.SEARCH_SETTINGS)}, plus `PARAMETER = DISTRIBUTION` bindings",
        f"- `ensemble`: {_code_list(cat.ENSEMBLE_SETTINGS)}",
    ])


TABLES = {f.__name__.replace("_", "-"): f for f in (diagnostics, layers, common_args, loaders, optimizers,
                                                     callbacks, distributions, trees, words, settings)}


# a spec has no backquote, and neither has netc's output for it
_EXAMPLE = re.compile(r"```net\n([^`]*)```\n```text\n\$ netc check (\S+\.net)\n([^`]*)```")


def _netc_check(source: str, name: str) -> str:
    """What ``netc check NAME`` prints for ``source`` saved as NAME."""
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, name).write_text(source, encoding="utf-8")
        done = subprocess.run([sys.executable, "-m", "netc", "check", name], cwd=folder, capture_output=True,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return done.stdout


def _examples(text: str) -> str:
    return _EXAMPLE.sub(lambda m: f"```net\n{m.group(1)}```\n```text\n$ netc check {m.group(2)}\n"
                                  f"{_netc_check(m.group(1), m.group(2))}```", text)


def unclean_examples(text: str) -> list[str]:
    """The ```net blocks with no output shown that do not check clean, as 'line: codes'."""
    from netc import check_string

    shown = {m.start() for m in _EXAMPLE.finditer(text)}
    found = []
    for m in re.finditer(r"```net\n([^`]*)```", text):
        if m.start() in shown:
            continue
        codes = [d.code for d in check_string(m.group(1))]
        if codes:
            found.append(f"line {text[:m.start()].count(chr(10)) + 1}: {', '.join(codes)}")
    return found


def refreshed(text: str) -> str:
    text = _examples(text)
    for name, make in TABLES.items():
        pattern = re.compile(rf"(<!-- generated:{name} -->\n)(?:.*?\n)?(<!-- end generated:{name} -->)", re.S)
        text = pattern.sub(lambda m: m.group(1) + make() + "\n" + m.group(2), text)
    return text


def main(argv: list[str]) -> int:
    if argv[:1] in (["--write"], ["--check"]):
        status = 0
        for doc in DOCS:
            old = doc.read_text(encoding="utf-8")
            new = refreshed(old)
            for problem in unclean_examples(new):
                print(f"{doc}: example at {problem} does not check clean", file=sys.stderr)
                status = 1
            if argv[0] == "--write":
                doc.write_text(new, encoding="utf-8")
            elif new != old:
                print(f"{doc} is out of date: run python docs/generate_catalog_table.py --write", file=sys.stderr)
                status = 1
        return status
    for name in argv or TABLES:
        if name not in TABLES:
            print(f"unknown table {name!r}; tables: {', '.join(TABLES)}", file=sys.stderr)
            return 2
        print(TABLES[name]())
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
