"""Just enough of a Dockerfile parser for the deployment tests: stages, their instructions,
ENV as the image sees it, and exec-form (JSON) commands."""

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
DOCKERFILE = ROOT / "Dockerfile"


@dataclass
class Instruction:
    keyword: str  # upper case: FROM, RUN, ENV, ...
    arguments: str  # the rest, continuation lines joined
    line: int


@dataclass
class Stage:
    base: str  # FROM's image, build arguments substituted
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def environment(self, before: Instruction | None = None) -> dict[str, str]:
        """The variables this stage's ENV instructions set (up to `before`, if given)."""
        env = {}
        for instruction in self.instructions:
            if instruction is before:
                break
            if instruction.keyword == "ENV":
                env.update(parse_env(instruction.arguments))
        return env


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each instruction: comments dropped, continuations joined."""
    lines, current, start = [], [], 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not current and not stripped:
            continue
        if stripped.startswith("#"):  # a comment, also inside a continued instruction
            continue
        if not current:
            start = number
        if stripped.endswith("\\"):
            current.append(stripped[:-1].strip())
            continue
        current.append(stripped)
        lines.append((start, " ".join(part for part in current if part)))
        current = []
    if current:
        lines.append((start, " ".join(current)))
    return lines


def parse_env(arguments: str) -> dict[str, str]:
    """`ENV A=1 B="two words"` (or the legacy `ENV A value`) as a dict."""
    words = shlex.split(arguments)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


def exec_form(arguments: str) -> list[str]:
    """The JSON array of CMD/ENTRYPOINT/HEALTHCHECK CMD; shell form is refused (no signals)."""
    command = json.loads(arguments)
    assert isinstance(command, list) and all(isinstance(word, str) for word in command)
    return command


def healthcheck(instruction: Instruction) -> tuple[dict[str, str], list[str]]:
    """HEALTHCHECK's options (`--interval=30s` -> {"interval": "30s"}) and its exec-form command."""
    options = {}
    rest = instruction.arguments
    while match := re.match(r"--([a-z-]+)=(\S+)\s+", rest):
        options[match.group(1)] = match.group(2)
        rest = rest[match.end() :]
    keyword, _, command = rest.partition(" ")
    assert keyword.upper() == "CMD", f"HEALTHCHECK {rest!r}"
    return options, exec_form(command)


def substitute(text: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], text)


@dataclass
class Dockerfile:
    stages: list[Stage]
    args: dict[str, str]  # ARGs declared before the first FROM, with their defaults

    @classmethod
    def read(cls, path: Path = DOCKERFILE) -> "Dockerfile":
        stages: list[Stage] = []
        args: dict[str, str] = {}
        for line, text in logical_lines(path.read_text()):
            keyword, _, arguments = text.partition(" ")
            instruction = Instruction(keyword.upper(), arguments.strip(), line)
            if instruction.keyword == "FROM":
                words = substitute(instruction.arguments, args).split()
                name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
                stages.append(Stage(base=words[0], name=name))
            elif not stages:
                assert instruction.keyword == "ARG", f"line {line}: {text}"
                name, _, default = instruction.arguments.partition("=")
                args[name] = default
            else:
                stages[-1].instructions.append(instruction)
        return cls(stages=stages, args=args)

    @property
    def final(self) -> Stage:
        """The stage the image is made of."""
        return self.stages[-1]
