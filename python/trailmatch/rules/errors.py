"""The error every rules front end raises: :class:`RulesError`."""

from __future__ import annotations

__all__ = ["RulesError"]


class RulesError(ValueError):
    """A rules file that cannot be deployed as written.

    ``str(error)`` reads ``file:line: name: message`` followed, for common mistakes, by a line
    ``hint: ...`` saying how to fix it.

    Attributes:
        message: what is wrong.
        file: the rules file (as given to the loader).
        line: 1-based line where the offending element is defined, if known.
        name: the rule name or CloudFormation logical id concerned, if any.
        hint: how to fix a common mistake, or ``None``.
        path: where in the element: a template path (``Resources.Rule.Properties.State``) or,
            for an invalid event pattern, the JSONPath inside the pattern (``$.detail.eventName``).
        reason: for an invalid event pattern, EventBridge's reason text; for an invalid filter
            pattern, the engine's message (what is wrong, without the position).
        position: for an invalid filter pattern, the 0-based character position of the problem
            inside the pattern text, if known.

    Example:
        >>> e = RulesError("State must be one of ENABLED, DISABLED", file="stack.yaml", line=12,
        ...                name="MyRule", hint="use ENABLED")
        >>> print(e)
        stack.yaml:12: MyRule: State must be one of ENABLED, DISABLED
          hint: use ENABLED
    """

    def __init__(
        self,
        message: str,
        *,
        file: str = "",
        line: int | None = None,
        name: str | None = None,
        hint: str | None = None,
        path: str | None = None,
        reason: str | None = None,
        position: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.name = name
        self.hint = hint
        self.path = path
        self.reason = reason
        self.position = position

    def __str__(self) -> str:
        where = self.file or "<rules>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        text = f"{where}: {self.name}: {self.message}" if self.name else f"{where}: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def at(self, file: str, *, name: str | None = None, line: int | None = None) -> RulesError:
        """This error with ``file`` (and ``name``/``line`` where it has none) filled in."""
        if not self.file:
            self.file = file
        if self.name is None:
            self.name = name
        if self.line is None:
            self.line = line
        return self

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild,
            (self.message, self.file, self.line, self.name, self.hint, self.path, self.reason, self.position),
        )


def _rebuild(
    message: str,
    file: str,
    line: int | None,
    name: str | None,
    hint: str | None,
    path: str | None,
    reason: str | None,
    position: int | None = None,
) -> RulesError:
    return RulesError(message, file=file, line=line, name=name, hint=hint, path=path, reason=reason, position=position)
