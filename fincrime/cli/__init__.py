"""The ``fincrime`` command.

Each sub-module registers its commands with ``register(app)``. A command imports what it runs
(the engine, the stores, the pictures, the server: polars, pyoxigraph, pyspark, fastapi, boto3)
inside its body, so ``fincrime --help`` and every other command start without them
(tests/test_startup.py holds the package to that); light modules are imported at the top.
Errors derived from :class:`fincrime.errors.FincrimeError` print as one line (exit 2 for bad
input, 1 otherwise); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import typer

from fincrime import __version__
from fincrime.cli.common import console_err, spread_multi_values, state
from fincrime.errors import FincrimeError

app = typer.Typer(
    name="fincrime",
    help="Graph-based financial-crime investigation toolkit.\n\n"
    "Example: fincrime generate --transactions 10000 --out input/demo",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One module per command family; each defines register(app).
COMMAND_MODULES = (
    "generate",
    "reason",
    "jobs",
    "stores",
    "viz",
    "server",
    "score",
    "importers",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fincrime {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and engine logs."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    state.debug = debug


for _name in COMMAND_MODULES:
    _mod = f"fincrime.cli.{_name}"
    if importlib.util.find_spec(_mod) is not None:
        importlib.import_module(_mod).register(app)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    args = spread_multi_values(list(sys.argv[1:] if argv is None else argv))
    try:
        returned = app(args=args, standalone_mode=False)
        if isinstance(returned, int):
            return returned
    except FincrimeError as exc:
        if state.debug:
            raise
        render = getattr(exc, "render", None)
        # soft_wrap: the message stays one line even when stderr is a pipe or a log file
        console_err.print(
            f"error: {render() if render else exc.one_line()}", markup=False, highlight=False, soft_wrap=True
        )
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        console_err.print("aborted")
        return 130
    except KeyboardInterrupt:
        console_err.print("interrupted")
        return 130
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            console_err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return int(getattr(exc, "exit_code", 2))
    except Exception as exc:  # unexpected failures: one line unless --debug
        if state.debug:
            raise
        console_err.print(
            f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
