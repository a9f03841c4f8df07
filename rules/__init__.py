"""Rule packs: rule-engine expressions compiled to polars, evaluated over whole frames."""

from rules.compiler import compile_expression as compile_expression
from rules.compiler import compile_value as compile_value
from rules.errors import RuleError as RuleError
from rules.errors import RuleSyntaxError as RuleSyntaxError
from rules.errors import RuleTypeError as RuleTypeError
from rules.errors import UnsupportedRuleError as UnsupportedRuleError

__all__ = [
    "RuleError",
    "RuleSyntaxError",
    "RuleTypeError",
    "UnsupportedRuleError",
    "compile_expression",
    "compile_value",
]
