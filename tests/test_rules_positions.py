"""The position-tracking YAML and JSON loaders behind every rules format."""

from __future__ import annotations

import json
import pickle

import pytest

from trailmatch.rules import RulesError
from trailmatch.rules.positions import (
    BlockText,
    FloatText,
    IntText,
    LineDict,
    LineList,
    dump_json,
    load_json_documents,
    load_yaml_documents,
    walk,
)

# --- JSON -------------------------------------------------------------------------------------


def test_json_lines_of_objects_keys_and_items():
    text = '{\n\t"a": 1,\n\t"b": [\n\t\t"x",\n\t\t{"c": null}\n\t]\n}'
    (doc,) = load_json_documents(text, "f.json")
    assert isinstance(doc, LineDict)
    assert doc.line == 1
    assert doc.line_of("a") == 2
    assert doc.line_of("b") == 3
    assert isinstance(doc["b"], LineList)
    assert doc["b"].line_of(0) == 4
    assert doc["b"].line_of(1) == 5
    assert doc["b"][1].line == 5
    assert doc == {"a": 1, "b": ["x", {"c": None}]}


def test_json_concatenated_documents_as_appended_by_the_cli():
    docs = load_json_documents('{"Rules": []}\n{"Targets": []}\n\n[1, 2]\n', "out.json")
    assert docs == [{"Rules": []}, {"Targets": []}, [1, 2]]
    assert [d.line for d in docs] == [1, 2, 4]


def test_json_numbers_keep_their_text():
    (doc,) = load_json_documents('{"a": [1.50, -0, 1e400, 10, 2.5E+3]}', "f.json")
    assert [type(v) for v in doc["a"]] == [FloatText, IntText, FloatText, IntText, FloatText]
    assert dump_json(doc) == '{"a": [1.50, -0, 1e400, 10, 2.5E+3]}'


def test_json_strings_with_escapes_and_unicode():
    (doc,) = load_json_documents('{"k\\u00e9y": "a\\nb \\"q\\" \\ud83d\\ude00 é"}', "f.json")
    assert doc == {"kéy": 'a\nb "q" \U0001f600 é'}
    assert dump_json(doc) == json.dumps(doc)
    assert dump_json(doc, ensure_ascii=False) == '{"kéy": "a\\nb \\"q\\" \U0001f600 é"}'


def test_json_bom_is_skipped():
    assert load_json_documents('\ufeff{"a": true}', "f.json") == [{"a": True}]


@pytest.mark.parametrize(
    ("text", "line", "message", "hint"),
    [
        ('{\n  "a": 1,\n  "b": 2,\n}', 4, "expecting a double-quoted key", None),
        ('{\n  "a": [1, 2,]\n}', 2, "expecting a value, found ']'", "no comma before a closing bracket"),
        ("{\n  'a': 1\n}", 2, "expecting a double-quoted key", "double-quoted"),
        ('{"a": 1\n\n', 3, "a bracket is not closed", None),
        ('{\n"a": 1\n"b": 2}', 3, "expecting ',' or a closing bracket", None),
        ('{"a": tru}', 1, "expecting a value", None),
        ('{"a": "tab\there"}', 1, "Invalid control character", None),
    ],
)
def test_json_errors_name_the_line(text, line, message, hint):
    with pytest.raises(RulesError) as info:
        load_json_documents(text, "bad.json")
    e = info.value
    assert e.file == "bad.json"
    assert e.line == line
    assert message in e.message
    assert "column" in e.message
    if hint:
        assert hint in (e.hint or "")
    assert str(e).startswith(f"bad.json:{line}: invalid JSON")


def test_json_duplicate_keys_are_rejected_with_both_lines():
    with pytest.raises(RulesError) as info:
        load_json_documents('{\n  "source": ["a"],\n  "source": ["b"]\n}', "dup.json")
    assert info.value.line == 3
    assert "duplicate key 'source' (first at line 2)" in info.value.message


def test_json_nesting_is_bounded_without_recursion():
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(RulesError, match="nested more than"):
        load_json_documents(deep, "deep.json")
    ok = "[" * 200 + "]" * 200
    (doc,) = load_json_documents(ok, "ok.json")
    assert dump_json(doc).startswith("[[[")


# --- YAML -------------------------------------------------------------------------------------


def test_yaml_lines_and_short_forms():
    text = """\
Resources:
  Topic:
    Type: AWS::SNS::Topic
  Rule:
    Properties:
      Arn: !GetAtt Topic.TopicArn
      Other: !GetAtt [Topic, TopicName]
      Name: !Sub "${AWS::StackName}-x"
      List: !Join [",", [a, b]]
      Nested: !If [Cond, !Ref Topic, !Ref "AWS::NoValue"]
      Map: !ToJsonString {a: 1}
      AZs: !GetAZs ""
"""
    docs, info = load_yaml_documents(text, "t.yaml")
    props = docs[0]["Resources"]["Rule"]["Properties"]
    assert props["Arn"] == {"Fn::GetAtt": ["Topic", "TopicArn"]}
    assert props["Other"] == {"Fn::GetAtt": ["Topic", "TopicName"]}
    assert props["Name"] == {"Fn::Sub": "${AWS::StackName}-x"}
    assert props["List"] == {"Fn::Join": [",", ["a", "b"]]}
    assert props["Nested"] == {"Fn::If": ["Cond", {"Ref": "Topic"}, {"Ref": "AWS::NoValue"}]}
    assert props["Map"] == {"Fn::ToJsonString": {"a": 1}}
    assert props["AZs"] == {"Fn::GetAZs": ""}
    assert props.line_of("Arn") == 6
    assert props["Arn"].line == 6
    assert docs[0]["Resources"].line_of("Rule") == 4
    assert [tag for tag, _ in info.tag_lines][:2] == ["!GetAtt", "!GetAtt"]


def test_yaml_dates_stay_strings_and_keys_keep_their_text():
    docs, _ = load_yaml_documents("AWSTemplateFormatVersion: 2010-09-09\non: 1\n1: x\nyes: [no]\n", "t.yaml")
    assert docs[0] == {"AWSTemplateFormatVersion": "2010-09-09", "on": 1, "1": "x", "yes": [False]}


def test_yaml_numbers_keep_their_text():
    docs, _ = load_yaml_documents("a: [1.50, 0x1f, 1_000, 7]\n", "t.yaml")
    assert dump_json(docs[0]) == '{"a": [1.50, 31, 1000, 7]}'


def test_yaml_literal_block_knows_its_first_line():
    docs, _ = load_yaml_documents('x: 1\np: |\n  {\n    "a": 1\n  }\nq: !Sub |\n  text\n', "t.yaml")
    assert isinstance(docs[0]["p"], BlockText)
    assert docs[0]["p"].first_line == 3
    assert docs[0]["q"]["Fn::Sub"].first_line == 7


def test_position_types_pickle():
    for value in (BlockText("x", 3), IntText(5, "05"), FloatText(1.5, "1.50")):
        copy = pickle.loads(pickle.dumps(value))
        assert copy == value
        assert type(copy) is type(value)


def test_yaml_duplicate_keys_are_rejected():
    with pytest.raises(RulesError) as info:
        load_yaml_documents("a: 1\nb:\n  c: 1\n  c: 2\n", "dup.yaml")
    assert (info.value.file, info.value.line) == ("dup.yaml", 4)
    assert "duplicate key 'c' (first at line 3)" in info.value.message


@pytest.mark.parametrize(
    ("text", "line", "hint"),
    [
        ("a:\n\tb: 1\n", 2, "tabs"),
        ("a: b: c\n", 1, "quote it"),
        ("a: *nothing\n", 1, "anchor"),
        ("a:\n  - 1\n b: 2\n", 3, None),
        ("a: !Reff X\n", 1, "short forms"),
    ],
)
def test_yaml_errors_name_the_line(text, line, hint):
    with pytest.raises(RulesError) as info:
        load_yaml_documents(text, "bad.yaml")
    assert info.value.file == "bad.yaml"
    assert info.value.line == line
    if hint:
        assert hint in (info.value.hint or "")


def test_yaml_aliases_are_recorded_and_bombs_refused():
    docs, info = load_yaml_documents("a: &x [1]\nb: *x\n", "t.yaml")
    assert docs[0] == {"a": [1], "b": [1]}
    assert info.alias_lines == [2]
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        bomb += f"{chr(97 + i)}: &{chr(97 + i)} [{', '.join(['*' + chr(96 + i)] * 10)}]\n"
    with pytest.raises(RulesError, match="aliases expand"):
        load_yaml_documents(bomb, "bomb.yaml")


def test_yaml_deep_nesting_is_an_error_not_a_crash():
    with pytest.raises(RulesError, match="nested"):
        load_yaml_documents("a: " + "[" * 5000 + "]" * 5000, "deep.yaml")


def test_walk_visits_values_with_lines():
    (doc,) = load_json_documents('{"a": {"b": [1,\n2]}}', "f.json")
    leaves = [(v, line) for v, line in walk(doc) if isinstance(v, int)]
    assert leaves == [(1, 1), (2, 2)]


def test_dump_json_refuses_what_json_cannot_hold():
    with pytest.raises(ValueError, match="JSON"):
        dump_json({"a": float("nan")})
    with pytest.raises(ValueError, match="set"):
        dump_json({"a": {1}})
