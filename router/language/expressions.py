"""JMESPath over journey state, with errors that never repeat the state (or the expression) they were about.

jmespath's own messages quote the value a function refused ("invalid type for value: GB82WEST1234...") and
echo the whole expression with a caret under the problem; an expression written to find one customer holds
that customer's data. Both end up in logs, DLQ attributes and terminals. These errors name the kind of problem,
its position and the types involved, nothing else. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

import jmespath
from jmespath.exceptions import (
    IncompleteExpressionError,
    JMESPathError,
    JMESPathTypeError,
    LexerError,
    ParseError,
    UnknownFunctionError,
)
from jmespath.parser import ParsedResult


class ExpressionError(ValueError):
    """An expression that does not parse, or fails on the data it is given; the message holds no value."""


def compiled(expression: str, what: str) -> ParsedResult:
    """`expression` parsed, or ExpressionError saying where it stops, in words that do not repeat it."""
    try:
        return jmespath.compile(expression)
    except IncompleteExpressionError:
        raise ExpressionError(f"{what} does not parse: it ends too soon") from None
    except LexerError as exc:
        raise ExpressionError(
            f"{what} does not parse: at character {exc.lex_position}, a quote is not closed or a character is unknown"
        ) from None
    except ParseError as exc:
        raise ExpressionError(
            f"{what} does not parse: at character {exc.lex_position}, an unexpected {exc.token_type} token"
        ) from None
    except JMESPathError:
        raise ExpressionError(f"{what} does not parse") from None


def search(expression: ParsedResult | str, data: Any, what: str) -> Any:
    """The expression's value on `data`, or ExpressionError naming the function and types that did not fit."""
    parsed = compiled(expression, what) if isinstance(expression, str) else expression
    try:
        return parsed.search(data)
    except JMESPathTypeError as exc:
        expected = " or ".join(exc.expected_types)
        raise ExpressionError(
            f"{what} failed: {exc.function_name}() takes {expected}, and was given {exc.actual_type}"
        ) from None
    except UnknownFunctionError:
        raise ExpressionError(f"{what} failed: it calls a function JMESPath does not have") from None
    except (JMESPathError, TypeError):  # TypeError: jmespath compares a number with a string by raising it
        raise ExpressionError(f"{what} failed: it compares or combines values of different types") from None
