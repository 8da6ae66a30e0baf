"""Exception types of the public API.

Every public function validates its inputs at the boundary and raises :class:`InputError` with a message meant to
be shown to the user as is (it names the offending file, line, argument or size), instead of letting a deep
traceback from numpy/torch/PIL be the error message.
"""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad user input; the message is shown to the user as is.

    Subclasses :class:`ValueError`, so ``except ValueError`` also catches it.
    """
