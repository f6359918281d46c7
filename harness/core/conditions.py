"""Conditions on measured figures, as written in scenario files.

    ">= 1"   "== 0"   "< 5.0"   numeric comparisons
    true / false / 3 / "transport error"   equality
    "~ Invalid session"                    the value (as text) contains the rest
    "any"                                  the figure exists (not None)
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
       ">": operator.gt, "<": operator.lt}


class ConditionError(ValueError):
    pass


@dataclass(frozen=True)
class Condition:
    op: str
    operand: Any
    text: str

    def holds(self, value: Any) -> bool:
        if self.op == "any":
            return value is not None
        if self.op == "~":
            return value is not None and self.operand in str(value)
        if self.op == "is":
            return value == self.operand
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return OPS[self.op](value, self.operand)


def parse_condition(raw: Any) -> Condition:
    if isinstance(raw, (bool, int, float)) or raw is None:
        return Condition("is", raw, repr(raw).lower() if isinstance(raw, bool) else repr(raw))
    if not isinstance(raw, str):
        raise ConditionError(f"a condition is a value or a string like '>= 1', got {raw!r}")
    text = raw.strip()
    if text == "any":
        return Condition("any", None, text)
    if text.startswith("~"):
        return Condition("~", text[1:].strip(), text)
    for sym in sorted(OPS, key=len, reverse=True):
        if text.startswith(sym):
            rest = text[len(sym):].strip()
            try:
                number = float(rest) if "." in rest else int(rest)
            except ValueError:
                raise ConditionError(f"{raw!r}: {sym} needs a number, got {rest!r}") from None
            return Condition(sym, number, text)
    return Condition("is", text, repr(text))
