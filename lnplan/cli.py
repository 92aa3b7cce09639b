"""The lnplan command line: thin wrappers that load inputs, call the library and write outputs.

This is the only module that sets up logging. Expected mistakes (:class:`lnplan.errors.LnplanError`)
are printed without a traceback and exit with code 2.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.console import Console

from lnplan import __version__
from lnplan.errors import LnplanError

app = typer.Typer(
    name="lnplan",
    help="Plan Liaoning's disability-service programmes on real geography.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Run a solver on a classic benchmark instance.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

console = Console()
err_console = Console(stderr=True)


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"lnplan {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version."),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print an error for a planner (no traceback) and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


# --- commands -------------------------------------------------------------------------------
# Each command keeps to: parse options -> call the library -> print or write. Wrap library calls in
# `except LnplanError as e: raise fail(str(e)) from None` so expected mistakes never show a traceback.


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except LnplanError as exc:  # a library error a command did not catch itself
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
