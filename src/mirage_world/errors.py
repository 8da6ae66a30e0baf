"""Exception types of the public API, and the command line's one-line error style.

Every public function validates its inputs at the boundary and raises :class:`InputError` with a message meant to
be shown to the user as is (it names the offending file, line, argument or size), instead of letting a deep
traceback from numpy/torch/PIL be the error message.

The ``mirage`` commands end every error -- their own :class:`InputError` and click's usage errors alike (unknown
option, missing option, an int that is not an int) -- with one ``error: ...`` line on stderr and exit code 2; see
:func:`cli_group_class`.
"""

from __future__ import annotations

import functools

__all__ = ["InputError", "ModelNotFoundError", "EXIT_INPUT_ERROR", "cli_group_class", "fail"]

#: Exit code of every command line error (bad option, bad input file, unwritable output).
EXIT_INPUT_ERROR = 2


class InputError(ValueError):
    """Bad user input; the message is shown to the user as is.

    Subclasses :class:`ValueError`, so ``except ValueError`` also catches it.
    """


class ModelNotFoundError(InputError):
    """A model's weights / config could not be found (offline and not in the Hugging Face cache, or a folder that is
    not there or not a model). The message says what was looked for, where, and how to get it (``hf download``)."""


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) collapsed to one space."""
    return " ".join(str(text).split())


def _bad_argument(args: list) -> str | None:
    """Why a raw command line cannot be right (an empty argument, a NUL byte), or ``None``."""
    for i, a in enumerate(args):
        a = str(a)
        prev = str(args[i - 1]) if i and str(args[i - 1]).startswith("-") else None
        if a == "" or (a.startswith("--") and a.endswith("=")):
            name = a[:-1] if a else prev
            return f"empty argument{f' for {name}' if name else ''} (a path or value is needed)"
        if "\x00" in a:
            return f"argument {a.split(chr(0))[0][:40]!r}... contains a NUL byte"
    return None


@functools.lru_cache(maxsize=None)
def cli_group_class():
    """A :class:`typer.core.TyperGroup` subclass for ``typer.Typer(cls=...)`` whose ``main`` reports click's own
    usage errors as one ``error: ...`` line on stderr with exit code 2, instead of Typer's boxed usage panel.

    ``--help`` (exit 0) and ``no_args_is_help`` (the help text) are unchanged. Only the top-level group's ``main``
    runs, so the group of the ``mirage`` app handles its sub-apps' errors too; sub-apps set it as well for when they
    run on their own (``python -m mirage_world.worlds.cli``, ``CliRunner().invoke(bench.app, ...)``).
    """
    import sys

    import typer
    from typer.core import TyperGroup

    # the click that Typer parses with: click itself, or (Typer >= 0.2x) its vendored copy ``typer._click``
    exceptions = sys.modules[typer.BadParameter.__module__]
    click_errors = (exceptions.ClickException,)
    try:
        import click

        click_errors += (click.ClickException,)
    except ImportError:  # pragma: no cover - a Typer that vendors click needs no click
        pass
    no_args_is_help_error = getattr(exceptions, "NoArgsIsHelpError", None)  # click >= 8.2

    class OneLineErrorGroup(TyperGroup):
        def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
            if not standalone_mode:
                return super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                    standalone_mode=False, **extra)
            bad = _bad_argument(list(sys.argv[1:] if args is None else args))
            if bad:  # click would take "" for "." (the current folder) and pass NUL bytes on to os calls
                typer.echo(f"error: {bad}", err=True)
                sys.exit(EXIT_INPUT_ERROR)
            try:
                rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False,
                                  **extra)
            except click_errors as e:
                if no_args_is_help_error is not None and isinstance(e, no_args_is_help_error):
                    # the command's help, not an error (Typer's rich help has already printed itself)
                    if e.format_message().strip():
                        e.show()
                    sys.exit(e.exit_code)
                msg = one_line(e.format_message())
                ctx = getattr(e, "ctx", None)
                if ctx is not None and ctx.command_path:
                    msg += f" (see '{ctx.command_path} --help')"
                typer.echo(f"error: {msg}", err=True)
                sys.exit(EXIT_INPUT_ERROR)
            except typer.Abort:
                typer.echo("error: aborted", err=True)
                sys.exit(1)
            # without standalone mode click returns the exit code of ``typer.Exit`` / ``--help`` (or the command's
            # return value, None here)
            sys.exit(rv if isinstance(rv, int) and not isinstance(rv, bool) else 0)

    return OneLineErrorGroup


def fail(msg: str):
    """End a command with one ``error: msg`` line on stderr and exit code :data:`EXIT_INPUT_ERROR` (raises
    ``typer.Exit``); the commands call it with an :class:`InputError`'s message."""
    import typer

    typer.echo(f"error: {one_line(msg)}", err=True)
    raise typer.Exit(code=EXIT_INPUT_ERROR)
