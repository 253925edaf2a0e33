"""The `triage` command: runs the chosen subcommand (triage.commands) and maps errors to exit
codes. A bare `triage filter` runs before the parser is built: a served one is answered before
anything else is imported."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from triage.errors import TriageError


def configure_logging(verbose: bool) -> None:
    """Plain lines on stderr: journald and launchd add their own timestamps."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["filter"]:
        from triage.commands.filter import run_bare

        filtered = run_bare(argv[1:])
        if filtered is not None:
            return filtered
    from triage.commands.parser import build_parser, chosen_command

    parser = build_parser(chosen_command(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    configure_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except TriageError as exc:
        print(f"triage: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `triage classify ... | head` closes the pipe early; that is not an error.
        return 0


if __name__ == "__main__":
    sys.exit(main())
