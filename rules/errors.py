"""Rule errors: a rule that does not parse, type-check or compile stops the pack load.

Every error keeps its parts as attributes (``reason``, ``expression``, ``position``,
``suggestion``) and where the rule lives (``pack``, ``version``, ``rule_id``, ``path``).
The compiler knows only the expression; the pack loader adds the rest with :meth:`RuleError.at`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from claims.errors import ClaimsError


class RuleError(ClaimsError):
    """A rule that cannot be used, with the place in its expression and a suggestion.

    Attributes:
        reason: what is wrong, without the location.
        expression: the rule text.
        position: 0-based character offset of the fault in ``expression`` (None: unknown).
        suggestion: the closest valid name (column, attribute or built-in), if any.
        pack, version, rule_id, path: where the rule lives, once the loader knows it.
    """

    def __init__(
        self,
        reason: str,
        *,
        expression: str | None = None,
        position: int | None = None,
        suggestion: str | None = None,
        pack: str | None = None,
        version: str | None = None,
        rule_id: str | None = None,
        path: Path | None = None,
    ):
        self.reason = reason
        self.expression = expression
        self.position = position
        self.suggestion = suggestion
        self.pack = pack
        self.version = version
        self.rule_id = rule_id
        self.path = path
        super().__init__(self._render())

    def at(
        self,
        *,
        pack: str | None,
        version: str | None,
        rule_id: str | None,
        path: Path | None = None,
    ) -> Self:
        """A copy of this error located in a pack version and rule."""
        return type(self)(
            self.reason,
            expression=self.expression,
            position=self.position,
            suggestion=self.suggestion,
            pack=pack,
            version=version,
            rule_id=rule_id,
            path=path if path is not None else self.path,
        )

    def _render(self) -> str:
        where = ", ".join(
            part
            for part in (
                str(self.path) if self.path else "",
                f"{self.pack}@{self.version}" if self.pack else "",
                f"rule {self.rule_id}" if self.rule_id else "",
            )
            if part
        )
        text = f"{where}: {self.reason}" if where else self.reason
        if self.position is not None:
            text += f" at position {self.position}"
        if self.suggestion:
            text += f" (did you mean {self.suggestion!r}?)"
        if self.expression is not None:
            text += f"\n    {self.expression}"
            if self.position is not None:
                line_start = self.expression.rfind("\n", 0, self.position) + 1
                text += "\n    " + " " * (self.position - line_start) + "^"
        return text


class RuleSyntaxError(RuleError):
    """The expression is not rule-engine grammar, or holds a bad literal or regex."""


class RuleTypeError(RuleError):
    """The expression names an unknown column or attribute, or mixes incompatible types."""


class UnsupportedRuleError(RuleError):
    """Valid rule-engine text that the compiler does not translate to a polars expression.

    The project has no per-row fallback: rewrite the rule with supported constructs.
    """
