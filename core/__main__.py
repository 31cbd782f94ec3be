"""Command line: `python -m core <command> DATASET ...`.

Each module in core/cli/ is one subcommand: it defines COMMAND, HELP,
add_arguments(parser) and run(args) -> exit code. New commands need no edit here.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import pkgutil
import sys

import core.cli
from core.errors import FaceAtlasError
from core.jobs import UNEXPECTED_ERROR, ProgressReporter, acquire_slot, dispatch


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(prog="python -m core", description="FaceAtlas command line")
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {}
    for info in sorted(pkgutil.iter_modules(core.cli.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"core.cli.{info.name}")
        if not hasattr(module, "COMMAND"):
            continue
        p = sub.add_parser(module.COMMAND, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.add_argument("--progress-file", default=None, help=argparse.SUPPRESS)
        commands[module.COMMAND] = module
    return parser, commands


def main(argv: list[str] | None = None) -> int:
    """Run one command. As a background job (--progress-file), it first waits for a free job slot, and any
    failure is reported in the progress file as a plain sentence (the traceback stays in the job's log)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser, commands = build_parser()
    args = parser.parse_args(argv)
    reporter = ProgressReporter(args.progress_file)
    slot = acquire_slot(args.progress_file)
    try:
        return int(commands[args.command].run(args) or 0)
    except FaceAtlasError as exc:
        reporter.fail(str(exc))
        if getattr(args, "json", False):
            print(json.dumps({"error": str(exc)}))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        reporter.fail("it was interrupted")
        print("interrupted", file=sys.stderr)
        return 130
    except Exception:
        reporter.fail(f"{UNEXPECTED_ERROR}; the details are in the job's log")
        raise
    finally:
        if slot is not None:
            os.close(slot)
        if args.progress_file:
            _start_next_jobs()


def _start_next_jobs() -> None:
    """A job that ends hands its slot to the queue's next jobs (their pages need not be open for them to start)."""
    try:
        dispatch()
    except Exception:  # the queue is also moved on by the next page that looks at it
        logging.getLogger(__name__).warning("could not start the next queued jobs", exc_info=True)


if __name__ == "__main__":
    sys.exit(main())
