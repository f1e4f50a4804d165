"""The vocabulary under articles/_kb/: categories, tags, products, onboarding paths,
synonyms and the Chinese user dictionary. Writers change it by pull request."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.errors import Problem, error
from kb.yamlsafe import YamlMapping, item_line, parse_mapping

VOCABULARY_DIR = "_kb"
CATEGORIES_FILE = "categories.yaml"
TAGS_FILE = "tags.yaml"
PRODUCTS_FILE = "products.yaml"
ONBOARDING_FILE = "onboarding.yaml"
SYNONYMS_FILE = "synonyms.yaml"
USER_DICT_FILE = "userdict.txt"
REQUIRED_FILES = (CATEGORIES_FILE, TAGS_FILE, PRODUCTS_FILE)

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)*$")


@dataclass(frozen=True)
class Label:
    """A vocabulary entry's names in both languages."""

    slug: str
    zh: str
    en: str

    def name(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    @property
    def parent(self) -> str | None:
        return self.slug.rsplit("/", 1)[0] if "/" in self.slug else None


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    versions: tuple[str, ...] = ()


@dataclass(frozen=True)
class OnboardingPath:
    """An ordered reading list for new staff."""

    id: str
    title: dict[str, str]
    audience: dict[str, str]
    steps: tuple[str, ...]
    step_lines: tuple[int, ...]


@dataclass
class Vocabulary:
    categories: dict[str, Label] = field(default_factory=dict)
    tags: dict[str, Label] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    onboarding: dict[str, OnboardingPath] = field(default_factory=dict)
    synonyms: list[tuple[str, ...]] = field(default_factory=list)
    user_words: list[str] = field(default_factory=list)
    user_dict_lines: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The vocabulary as JSON, for the build's manifest: the site reads it from there, never from
        the checkout, so the checkout can change under a running site until the next build."""
        return {
            "categories": {slug: {"zh": label.zh, "en": label.en} for slug, label in self.categories.items()},
            "tags": {slug: {"zh": label.zh, "en": label.en} for slug, label in self.tags.items()},
            "products": {pid: {"name": p.name, "versions": list(p.versions)} for pid, p in self.products.items()},
            "onboarding": {pid: {"title": p.title, "audience": p.audience, "steps": list(p.steps),
                                 "step_lines": list(p.step_lines)} for pid, p in self.onboarding.items()},
            "synonyms": [list(group) for group in self.synonyms],
            "user_words": list(self.user_words),
            "user_dict_lines": list(self.user_dict_lines),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Vocabulary:
        """The vocabulary `to_json` wrote (a build's manifest)."""
        return cls(
            categories={slug: Label(slug, v["zh"], v["en"]) for slug, v in data.get("categories", {}).items()},
            tags={slug: Label(slug, v["zh"], v["en"]) for slug, v in data.get("tags", {}).items()},
            products={pid: Product(pid, v["name"], tuple(v.get("versions", ())))
                      for pid, v in data.get("products", {}).items()},
            onboarding={pid: OnboardingPath(pid, dict(v["title"]), dict(v["audience"]), tuple(v["steps"]),
                                            tuple(v.get("step_lines", ())))
                        for pid, v in data.get("onboarding", {}).items()},
            synonyms=[tuple(group) for group in data.get("synonyms", [])],
            user_words=list(data.get("user_words", [])),
            user_dict_lines=list(data.get("user_dict_lines", [])),
        )

    def product_problem(self, value: str) -> str | None:
        """Why `id` or `id@version` is not a known product, or None if it is."""
        product_id, _, version = value.partition("@")
        product = self.products.get(product_id)
        if product is None:
            return f"unknown product {product_id!r}; allowed: {', '.join(sorted(self.products))}"
        if version and product.versions and version not in product.versions:
            return (f"unknown version {version!r} of {product_id!r}; "
                    f"allowed: {', '.join(product.versions)}")
        return None


def _read(folder: Path, name: str, problems: list[Problem], required: bool) -> str | None:
    file = folder / name
    rel = f"{VOCABULARY_DIR}/{name}"
    if file.is_symlink():
        problems.append(error(rel, "is a symbolic link; kb never follows links"))
        return None
    if not file.is_file():
        if required:
            problems.append(error(rel, "vocabulary file is missing"))
        return None
    try:
        return file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(error(rel, f"cannot be read as UTF-8 text: {exc}"))
        return None


def _mapping(folder: Path, name: str, problems: list[Problem], required: bool = False) -> YamlMapping:
    text = _read(folder, name, problems, required)
    if text is None:
        return YamlMapping()
    parsed, found = parse_mapping(f"{VOCABULARY_DIR}/{name}", text, what=name)
    problems.extend(found)
    return parsed or YamlMapping()


def _bilingual(value: Any, rel: str, what: str, line: int, problems: list[Problem]) -> dict[str, str] | None:
    if (not isinstance(value, dict) or not all(isinstance(value.get(k), str) and value[k].strip()
                                               for k in ("zh", "en"))):
        problems.append(error(rel, f"{what} needs a Chinese and an English name: "
                                   "{zh: 中文名, en: English name}", line))
        return None
    return {"zh": value["zh"].strip(), "en": value["en"].strip()}


def _labels(parsed: YamlMapping, name: str, problems: list[Problem]) -> dict[str, Label]:
    rel = f"{VOCABULARY_DIR}/{name}"
    labels: dict[str, Label] = {}
    for slug, value in parsed.values.items():
        line = parsed.lines[slug][0]
        if not SLUG.match(slug):
            problems.append(error(rel, f"{slug!r} must be lowercase letters, digits and '-', "
                                       "with '/' between levels", line))
            continue
        names = _bilingual(value, rel, slug, line, problems)
        if names:
            labels[slug] = Label(slug, names["zh"], names["en"])
    for label in labels.values():
        if label.parent and label.parent not in labels:
            problems.append(error(rel, f"{label.slug!r} is under {label.parent!r}, which is not defined",
                                  parsed.lines[label.slug][0]))
    return labels


def _products(parsed: YamlMapping, problems: list[Problem]) -> dict[str, Product]:
    rel = f"{VOCABULARY_DIR}/{PRODUCTS_FILE}"
    products = {}
    for product_id, value in parsed.values.items():
        line = parsed.lines[product_id][0]
        if not SLUG.match(product_id) or "/" in product_id:
            problems.append(error(rel, f"product id {product_id!r} must be lowercase letters, digits, '-'", line))
            continue
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            problems.append(error(rel, f"{product_id!r} needs `name:` (and optionally `versions:`)", line))
            continue
        versions = value.get("versions", [])
        if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
            problems.append(error(rel, f"versions of {product_id!r} must be a list of quoted strings", line))
            continue
        products[product_id] = Product(product_id, value["name"], tuple(versions))
    return products


def _onboarding(parsed: YamlMapping, problems: list[Problem]) -> dict[str, OnboardingPath]:
    rel = f"{VOCABULARY_DIR}/{ONBOARDING_FILE}"
    paths = {}
    for path_id, value in parsed.values.items():
        line = parsed.lines[path_id][0]
        if not isinstance(value, dict):
            problems.append(error(rel, f"onboarding path {path_id!r} needs title, audience and steps", line))
            continue
        title = _bilingual(value.get("title"), rel, f"title of {path_id!r}", line, problems)
        audience = _bilingual(value.get("audience"), rel, f"audience of {path_id!r}", line, problems)
        steps = value.get("steps")
        if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
            problems.append(error(rel, f"steps of {path_id!r} must be a non-empty list of article ids", line))
            continue
        if title and audience:
            node = parsed.value_nodes[path_id]
            steps_node = next((v for k, v in node.value if k.value == "steps"), None)
            lines = tuple(item_line(steps_node, i) for i in range(len(steps)))
            paths[path_id] = OnboardingPath(path_id, title, audience, tuple(steps), lines)
    return paths


def _synonyms(parsed: YamlMapping, problems: list[Problem]) -> list[tuple[str, ...]]:
    rel = f"{VOCABULARY_DIR}/{SYNONYMS_FILE}"
    groups = []
    for head, others in parsed.values.items():
        if not isinstance(others, list) or not all(isinstance(w, str) and w.strip() for w in others):
            problems.append(error(rel, f"synonyms of {head!r} must be a list of words", parsed.lines[head][0]))
            continue
        groups.append(tuple(w.strip().lower() for w in (head, *others)))
    return groups


def _user_dict(folder: Path, problems: list[Problem]) -> tuple[list[str], list[str]]:
    text = _read(folder, USER_DICT_FILE, problems, required=False)
    words, lines = [], []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) > 1 and not parts[1].isdigit():
            problems.append(error(f"{VOCABULARY_DIR}/{USER_DICT_FILE}",
                                  "each line is `word [frequency] [part-of-speech]`", number))
            continue
        words.append(parts[0])
        lines.append(line)
    return words, lines


def load_vocabulary(articles_dir: Path, lenient: bool = False) -> tuple[Vocabulary, list[Problem]]:
    """Load every vocabulary file; problems name the file and line.

    Under `lenient` (foreign corpora) a missing vocabulary is fine.
    """
    folder = articles_dir / VOCABULARY_DIR
    problems: list[Problem] = []
    vocabulary = Vocabulary(
        categories=_labels(_mapping(folder, CATEGORIES_FILE, problems, not lenient), CATEGORIES_FILE, problems),
        tags=_labels(_mapping(folder, TAGS_FILE, problems, not lenient), TAGS_FILE, problems),
        products=_products(_mapping(folder, PRODUCTS_FILE, problems, not lenient), problems),
        onboarding=_onboarding(_mapping(folder, ONBOARDING_FILE, problems), problems),
        synonyms=_synonyms(_mapping(folder, SYNONYMS_FILE, problems), problems),
    )
    vocabulary.user_words, vocabulary.user_dict_lines = _user_dict(folder, problems)
    return vocabulary, problems
