"""Reading article files safely and splitting off their front-matter.

python-frontmatter follows symlinks, drops front-matter after a UTF-8 BOM and
cannot say on which line anything is, so reading and splitting happen here;
kb/yamlsafe.py then parses the YAML with line numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kb.errors import Problem, error

BOM = "\ufeff"
FENCE = re.compile(r"^---[ \t]*$")
CONFLICT_START = re.compile(r"^<{7}(?: |$)")
CONFLICT_END = re.compile(r"^>{7}(?: |$)")


@dataclass(frozen=True)
class SourceText:
    """An article file as text: BOM removed, line endings made \\n."""

    path: str
    text: str


@dataclass(frozen=True)
class SplitSource:
    """Front-matter and body of one file, with where each starts (1-based lines)."""

    front_matter: str | None  # None: the file has no front-matter block
    front_matter_line: int  # line of the first YAML line
    body: str
    body_line: int


def read_source(file: Path, rel_path: str, max_bytes: int) -> tuple[SourceText | None, list[Problem]]:
    """Read one article file, refusing what must never reach the renderer."""
    if file.is_symlink():
        return None, [error(rel_path, "is a symbolic link; kb never follows links, commit the file itself")]
    try:
        size = file.stat().st_size
        if size > max_bytes:
            return None, [error(rel_path, f"file is {size:,} bytes, over the {max_bytes:,}-byte limit; "
                                          "split the article")]
        data = file.read_bytes()
    except OSError as exc:
        return None, [error(rel_path, f"cannot be read: {exc.strerror or exc}")]
    if not data.strip():
        return None, [error(rel_path, "file is empty; an article needs front-matter with id and title")]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, [error(rel_path, "is saved as UTF-16; save the file as UTF-8")]
    if b"\x00" in data[:8192]:
        return None, [error(rel_path, "is a binary file, not Markdown text")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [error(rel_path, f"is not valid UTF-8 (byte 0x{data[exc.start]:02x}); "
                                      "save the file as UTF-8", line, col)]
    if text.startswith(BOM):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    problems = conflict_marker_problems(rel_path, text)
    return SourceText(rel_path, text), problems


def conflict_marker_problems(rel_path: str, text: str) -> list[Problem]:
    """Leftover git merge-conflict markers (a `=======` line alone is a Markdown heading rule)."""
    problems: list[Problem] = []
    if "<<<<<<<" not in text and ">>>>>>>" not in text:
        return problems
    for number, line in enumerate(text.split("\n"), start=1):
        if CONFLICT_START.match(line) or CONFLICT_END.match(line):
            problems.append(error(rel_path, "git conflict marker left in the file; finish the merge", number))
    return problems


def split_front_matter(source: SourceText) -> tuple[SplitSource, list[Problem]]:
    """Split `---` front-matter from the body; an unterminated block is an error."""
    lines = source.text.split("\n")
    if not lines or not FENCE.match(lines[0]):
        return SplitSource(None, 1, source.text, 1), []
    for index in range(1, len(lines)):
        if FENCE.match(lines[index]) or lines[index].rstrip() == "...":
            front = "\n".join(lines[1:index])
            body = "\n".join(lines[index + 1:])
            return SplitSource(front, 2, body, index + 2), []
    problem = error(source.path, "front-matter starts with `---` on line 1 but is never closed; "
                                 "add a `---` line after the last key", 1)
    return SplitSource(None, 1, source.text, 1), [problem]
