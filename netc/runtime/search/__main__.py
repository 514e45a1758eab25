"""The processes of a search: ``python -m netc.runtime.search worker|trial ...`` (started by netc itself).

The storage URL comes in the environment (``NETC_SEARCH_STORAGE``), never on
the command line, where other users of the machine could read a password.
"""
from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m netc.runtime.search")
    parser.add_argument("role", choices=("worker", "trial"))
    parser.add_argument("--spec", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--study", required=True)
    parser.add_argument("--run-dir", required=True)
    args = parser.parse_args(argv)
    from netc.runtime.search import store

    if args.role == "trial":
        from netc.runtime.search.trial import main as trial_main

        code = trial_main(args.spec, args.model, args.study, args.run_dir)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # the lifeline thread still reads standard input: leave without finalizing it
    from netc.runtime.search.worker import run_worker

    reason = run_worker(args.spec, args.model, os.environ[store.STORAGE_ENV], args.study, args.run_dir, lifeline=True)
    print(f"worker stopped: {reason}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # the lifeline thread still reads standard input: leave without finalizing it


if __name__ == "__main__":
    sys.exit(main())
