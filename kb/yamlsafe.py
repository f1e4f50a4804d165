"""Strict YAML for front-matter and vocabulary files, with a line for every value.

PyYAML alone accepts duplicate keys (the last wins), anchors and aliases (the
"billion laughs" bomb), and non-string keys, and reports tabs cryptically. Here
each becomes a problem at its own line; nothing is silently turned into `{}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from kb.errors import Problem, error

# libyaml's parser is about ten times faster than the pure-Python one, with the same marks.
Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
STR_TAG = "tag:yaml.org,2002:str"
TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
MAX_YAML_DEPTH = 20


@dataclass
class YamlMapping:
    """A parsed top-level mapping: values by key, and the (line, col) of each key."""

    values: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, tuple[int, int]] = field(default_factory=dict)
    value_nodes: dict[str, yaml.Node] = field(default_factory=dict)
    line_offset: int = 0  # file lines before the YAML text

    def item_line(self, key: str, index: int) -> int:
        """File line of the index-th list item under `key` (or of the key's value)."""
        return item_line(self.value_nodes.get(key), index, self.line_offset)


def _line_col(mark: Any, line_offset: int) -> tuple[int, int]:
    if mark is None:
        return line_offset + 1, 1
    return mark.line + 1 + line_offset, mark.column + 1


def _tab_problems(path: str, text: str, line_offset: int) -> list[Problem]:
    problems = []
    for number, line in enumerate(text.split("\n"), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            problems.append(error(
                path, "tab used for indentation; YAML needs spaces", number + line_offset,
                indent.index("\t") + 1,
            ))
    return problems


def _depth(node: yaml.Node, limit: int) -> int:
    """Nesting depth of a node, stopping early once past `limit`."""
    stack: list[tuple[yaml.Node, int]] = [(node, 1)]
    deepest = 0
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(current, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in current.value)
        elif isinstance(current, yaml.MappingNode):
            stack.extend((v, depth + 1) for _, v in current.value)
    return deepest


def parse_mapping(path: str, text: str, line_offset: int = 0, what: str = "front-matter"
                  ) -> tuple[YamlMapping | None, list[Problem]]:
    """Parse YAML text that must be a mapping with string keys.

    `line_offset` is the number of file lines before `text`, so problems point at
    the real line. Returns None (and the problems) when the text cannot be used.
    """
    problems = _tab_problems(path, text, line_offset)
    if problems:
        return None, problems
    try:
        for event in yaml.parse(text, Loader=Loader):
            anchor = getattr(event, "anchor", None)
            if isinstance(event, yaml.AliasEvent) or anchor:
                line, col = _line_col(event.start_mark, line_offset)
                problems.append(error(
                    path, f"YAML anchors and aliases (&{anchor} / *{anchor}) are not allowed in {what}; "
                    "write the value out", line, col))
        if problems:
            return None, problems
        root = yaml.compose(text, Loader=Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # At the end of the text (an unclosed bracket or quote) the useful line is where it opened.
        if exc.context_mark is not None and (mark is None or mark.line >= text.count("\n")):
            mark = exc.context_mark
        line, col = _line_col(mark, line_offset)
        reason = exc.problem or "invalid YAML"
        if exc.context:
            reason = f"{exc.context}: {reason}"
        return None, [error(path, f"YAML syntax error in {what}: {reason}", line, col)]
    except (yaml.YAMLError, RecursionError) as exc:
        return None, [error(path, f"{what} cannot be parsed: {type(exc).__name__}", line_offset + 1)]

    if root is None:
        return YamlMapping(), []
    if not isinstance(root, yaml.MappingNode):
        line, col = _line_col(root.start_mark, line_offset)
        return None, [error(path, f"{what} must be a mapping of `key: value` lines, not a "
                                  f"{'list' if isinstance(root, yaml.SequenceNode) else 'single value'}",
                            line, col)]

    result = YamlMapping(line_offset=line_offset)
    loader = yaml.SafeLoader("")
    for key_node, value_node in root.value:
        line, col = _line_col(key_node.start_mark, line_offset)
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != STR_TAG:
            shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else "a collection"
            problems.append(error(path, f"key {shown!r} is not a string; write keys as plain names", line, col))
            continue
        key = key_node.value
        if key in result.lines:
            first = result.lines[key][0]
            problems.append(error(path, f"duplicate key {key!r} (first on line {first})", line, col))
            continue
        if _depth(value_node, MAX_YAML_DEPTH) > MAX_YAML_DEPTH:
            problems.append(error(path, f"value of {key!r} is nested more than {MAX_YAML_DEPTH} levels deep",
                                  line, col))
            continue
        try:
            value = loader.construct_object(value_node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            vline, vcol = _line_col(value_node.start_mark, line_offset)
            if value_node.tag == TIMESTAMP_TAG:
                reason = f"{value_node.value!r} is not a real calendar date ({exc})"
            else:
                reason = f"value cannot be read ({exc})"
            problems.append(error(path, f"{key}: {reason}", vline, vcol))
            continue
        result.values[key] = value
        result.lines[key] = (line, col)
        result.value_nodes[key] = value_node
    return result, problems


def item_line(node: yaml.Node | None, index: int, line_offset: int = 0) -> int:
    """Line of the index-th item of a sequence node (or of the node itself)."""
    if isinstance(node, yaml.SequenceNode) and 0 <= index < len(node.value):
        return int(node.value[index].start_mark.line) + 1 + line_offset
    if node is not None:
        return int(node.start_mark.line) + 1 + line_offset
    return line_offset + 1
