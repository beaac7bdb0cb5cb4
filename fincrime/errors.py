"""The one error family users see: every subclass renders as a single clear line."""

from __future__ import annotations


class FincrimeError(Exception):
    """An error caused by input or environment, reported without a traceback.

    ``exit_code`` follows the CLI convention: 2 for bad input or usage, 1 for a failure
    while running.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


class InputError(FincrimeError):
    """Bad input: a malformed file, a bad option value, an invalid spec."""

    exit_code = 2


class SourceError(InputError):
    """An error at a position in a source file: ``file:line:column: message``.

    ``text`` is the offending line; ``render()`` shows it with a caret under the column.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str,
        line: int,
        column: int | None = None,
        text: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.source = source
        self.line = line
        self.column = column
        self.text = text
        self.reason = message
        where = f"{source}:{line}" + (f":{column}" if column is not None else "")
        super().__init__(f"{where}: {message}", hint=hint)

    def render(self) -> str:
        """The message, the offending line and a caret, for terminals and error files."""
        out = [self.one_line()]
        if self.text is not None:
            shown = self.text.rstrip("\n")
            caret = max((self.column or 1) - 1, 0)
            if len(shown) > _SHOWN:  # a window around the column, so a huge line stays readable
                start = max(0, min(caret - _SHOWN // 2, len(shown) - _SHOWN))
                window = shown[start : start + _SHOWN]
                lead = "…" if start else ""
                shown = lead + window + ("…" if start + _SHOWN < len(shown) else "")
                caret = caret - start + len(lead)
            out.append("    " + shown)
            if self.column is not None:
                out.append("    " + " " * caret + "^")
        return "\n".join(out)


_SHOWN = 100  # characters of the offending line shown under an error
