"""Foreach mapping keys from item values (runtime/keys.py), with Dagster's own check of
a key (ops._accepted); the end-to-end test is in test_graph_shapes.py."""

from __future__ import annotations

from metaflow_dagster.runtime.keys import Frame, mapping_keys, split_parts, split_value
from metaflow_dagster.runtime.ops import _accepted


def one_level(values: list[str | None]) -> list[str]:
    stacks: list[list[Frame]] = [[(i, len(values), v)] for i, v in enumerate(values)]
    return mapping_keys(stacks, _accepted)


def two_levels(outer: list[str], inner: dict[int, list[str]]) -> list[str]:
    stacks: list[list[Frame]] = [
        [(o, len(outer), outer[o]), (i, len(inner[o]), value)]
        for o in range(len(outer))
        for i, value in enumerate(inner[o])
    ]
    return mapping_keys(stacks, _accepted)


def test_values_that_make_keys_are_the_keys() -> None:
    assert one_level(["alpha", "beta", "model_2"]) == ["alpha", "beta", "model_2"]
    # Numbers as their digits, zero-padded to one width so they sort.
    assert one_level(["30", "10", "20", "5"]) == ["30", "10", "20", "05"]
    assert one_level([str(i) for i in range(12)])[:2] == ["00", "01"]


def test_a_level_falls_back_to_split_indexes_as_a_whole() -> None:
    # A value that is no key (a dot, a dash, a space, `_` at an end, none recorded)
    # turns the whole level into zero-padded indexes.
    for odd in ("0.5", "a-b", "a b", "_a", "a_", None):
        others = [f"v{i}" for i in range(9)]
        assert one_level(others) == others
        assert one_level(["alpha", odd, *others]) == [f"{i:02d}" for i in range(11)]
    # Repeated values, and names Dagster reserves (its own check).
    assert one_level(["x", "x"]) == ["0", "1"]
    assert one_level(["input", "beta"]) == ["0", "1"]
    assert one_level(["class", "beta"]) == ["0", "1"]


def test_nested_levels_decide_per_siblings_and_stay_unique() -> None:
    assert two_levels(["p", "q"], {0: ["r", "s"], 1: ["0.5", "s"]}) == [
        "p_r",
        "p_s",
        "q_0",
        "q_1",
    ]
    # `a_b` + `c` and `a` + `b_c` would both read `a_b_c`: split keys throughout.
    assert two_levels(["a_b", "a"], {0: ["c"], 1: ["b_c"]}) == ["0_0", "1_0"]


def test_split_values_carry_the_parent_path_and_the_index() -> None:
    value = split_value("dagster-1/start/t-2b020927", "07")
    assert split_parts(value) == ("dagster-1/start/t-2b020927", "07")
    assert split_parts("dagster-1/body/t-02083f45-07") == (
        "dagster-1/body/t-02083f45-07",
        None,
    )
