"""Rule packs: rule-engine expressions compiled to polars, evaluated over whole frames."""

from rules.compiler import compile_expression as compile_expression
from rules.compiler import compile_value as compile_value
from rules.compiler import expression_columns as expression_columns
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
    "expression_columns",
]
