"""Errors that mean "the user asked for something wrong", as opposed to bugs.

The CLI prints these as one line (what was wrong, where, what to do) instead of a traceback.
"""


class UserError(Exception):
    """A mistake in the user's input: a bad file, argument or configuration."""
