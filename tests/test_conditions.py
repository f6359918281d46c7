import pytest

from harness.core.conditions import ConditionError, parse_condition


@pytest.mark.parametrize("raw, value, holds", [
    (">= 1", 1, True), (">= 1", 0, False), ("== 0", 0, True), ("< 2.5", 2.4, True), ("< 2.5", None, False),
    (True, True, True), (True, 1, True), (False, None, False), ("transport error", "transport error", True),
    ("~ Invalid session", '"Invalid session abc"', True), ("~ Invalid session", None, False),
    ("any", 0, True), ("any", None, False), (">= 1", True, False),
])
def test_conditions(raw, value, holds):
    assert parse_condition(raw).holds(value) is holds


@pytest.mark.parametrize("raw", [">= one", [1], {"a": 1}])
def test_bad_conditions(raw):
    with pytest.raises(ConditionError):
        parse_condition(raw)
