from __future__ import annotations

import pytest

from hub.mappings.yaml_lines import YamlSyntaxError, load_with_lines

TEXT = """\
# a comment
name: one
items:
  - code: a
    tags: [x, y]
  - code: b
    nested:
      deep: 1
flow: {k: v}
"""


def test_data_is_what_safe_load_gives() -> None:
    import yaml

    assert load_with_lines(TEXT).data == yaml.safe_load(TEXT)


def test_every_node_has_its_line() -> None:
    doc = load_with_lines(TEXT)
    assert doc.line_of(()) == 2
    assert doc.line_of(("name",)) == 2
    assert doc.line_of(("items",)) == 3
    assert doc.line_of(("items", 0)) == 4
    assert doc.line_of(("items", 0, "tags", 1)) == 5
    assert doc.line_of(("items", 1, "nested")) == 7  # the key's line, not the value's
    assert doc.line_of(("items", 1, "nested", "deep")) == 8
    assert doc.line_of(("flow", "k")) == 9


def test_a_missing_path_falls_back_to_its_deepest_written_parent() -> None:
    doc = load_with_lines(TEXT)
    assert doc.line_of(("items", 1, "label")) == 6
    assert doc.line_of(("nothing", "here")) == 2


def test_duplicate_keys_are_reported_and_the_last_wins() -> None:
    doc = load_with_lines("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    assert doc.data == {"a": 3, "b": {"c": 2}}
    assert [(d.path, d.key, d.line, d.first_line) for d in doc.duplicate_keys] == [
        ((), "a", 5, 1),
        (("b",), "c", 4, 3),
    ]
    assert doc.line_of(("a",)) == 5


def test_merge_keys_and_aliases_resolve() -> None:
    doc = load_with_lines("base: &b {k: 1}\nm:\n  <<: *b\n  j: 2\n")
    assert doc.data["m"] == {"k": 1, "j": 2}
    assert doc.line_of(("m", "j")) == 4


def test_recursive_anchor_does_not_loop() -> None:
    doc = load_with_lines("a: &x [1, *x]\n")
    assert doc.line_of(("a", 1)) == 1


def test_empty_document() -> None:
    doc = load_with_lines("# nothing\n")
    assert doc.data is None
    assert doc.line_of(("x",)) == 1


def test_syntax_error_has_line_and_column() -> None:
    with pytest.raises(YamlSyntaxError) as caught:
        load_with_lines("a: 1\nb: [1, 2\nc: 3\n")
    assert caught.value.line == 3
    assert caught.value.column >= 1


def test_unsafe_tags_are_refused_not_run() -> None:
    with pytest.raises(YamlSyntaxError) as caught:
        load_with_lines("ok: 1\nx: !!python/object/apply:os.system ['true']\n")
    assert caught.value.line == 2
    assert "constructor" in caught.value.message
