"""Split a script into statements and parse each one alone, so one broken statement spoils only itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects import Dialects
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError, TokenError
from sqlglot.tokens import Token, TokenType

from registry.errors import Invalid

#: names people use for databases sqlglot has no dialect of, and the dialect each is read as
DIALECT_ALIASES = {
    "dm": "oracle",
    "dameng": "oracle",
    "kingbase": "postgres",
    "gbase": "mysql",
    "oceanbase": "mysql",
}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


_DIALECTS: dict[str, Dialect] = {}
_CHOICES = sorted({d.value for d in Dialects if d.value} | set(DIALECT_ALIASES))


def dialect_choices() -> list[str]:
    """Every dialect name ``analyse`` accepts: sqlglot's own plus the aliases."""
    return list(_CHOICES)


def resolve_dialect(name: str) -> Dialect:
    """The sqlglot dialect for a name; raises ``Invalid`` naming the choices for an unknown one."""
    key = (name or "").strip().lower()
    key = DIALECT_ALIASES.get(key, key)
    if key not in _CHOICES:
        raise Invalid(
            f"unknown SQL dialect {name!r}: choose one of {', '.join(dialect_choices())}",
            {"dialect": [f"unknown dialect {name!r}"]},
        )
    dialect = _DIALECTS.get(key)
    if dialect is None:
        dialect = _DIALECTS[key] = Dialect.get_or_raise(key)
    return dialect


@dataclass(slots=True)
class Parsed:
    """One statement of the script: its text, first line, and its tree or why there is none."""

    sql: str
    line: int
    tree: exp.Expr | None = None
    error: str | None = None


def split(sql: str, dialect: Dialect, label: str) -> Iterator[Parsed]:
    """Every statement in ``sql`` (separated by ``;``, and by ``GO`` or ``/`` lines in T-SQL and
    Oracle), each parsed when it is reached so that only one tree is alive at a time.

    Raises ``Invalid`` when there is no statement at all."""
    if not isinstance(sql, str) or not sql.strip():
        raise Invalid("no SQL given: the input is empty", {"sql": ["empty"]})
    try:
        chunks = [(*_text(sql, c), c, sql) for c in _chunks(dialect.tokenize(sql), dialect)]
    except TokenError:
        # an unterminated string or comment: cut on semicolons and let each piece fail alone
        chunks = _rough_chunks(sql, dialect)
    found = False
    for text, line, tokens, source in chunks:
        parsed = _parse(text, line, tokens, source, dialect, label)
        if parsed.error or parsed.tree is not None:
            found = True
            yield parsed
    if not found:
        raise Invalid("no SQL statement found in the input (only comments or separators)", {"sql": ["empty"]})


def _chunks(tokens: list[Token], dialect: Dialect) -> list[list[Token]]:
    # T-SQL's batch separator GO and SQL*Plus's / are statements' ends when alone on a line
    separator = {"TSQL": "GO", "Fabric": "GO", "Oracle": "/"}.get(dialect.__class__.__name__)
    chunks, current = [], []
    for i, tok in enumerate(tokens):
        if tok.token_type == TokenType.SEMICOLON:
            chunks.append(current)
            current = []
        elif separator and tok.text.upper() == separator and _alone_on_line(tokens, i):
            chunks.append(current)
            current = []
        else:
            current.append(tok)
    chunks.append(current)
    return [c for c in chunks if c]


def _alone_on_line(tokens: list[Token], i: int) -> bool:
    tok = tokens[i]
    before = i == 0 or tokens[i - 1].line != tok.line
    after = i + 1 == len(tokens) or tokens[i + 1].line != tok.line
    return before and after


def _text(sql: str, chunk: list[Token]) -> tuple[str, int]:
    return sql[chunk[0].start : chunk[-1].end + 1], chunk[0].line


def _rough_chunks(sql: str, dialect: Dialect) -> list[tuple[str, int, list[Token] | None, str]]:
    out, line = [], 1
    for piece in sql.split(";"):
        stripped = piece.strip()
        if stripped:
            first = line + piece[: piece.index(stripped[0])].count("\n")
            try:
                tokens = dialect.tokenize(piece)
            except TokenError:
                tokens = None
            out.append((stripped, first, tokens, piece))
        line += piece.count("\n")
    return out


def _parse(
    text: str, line: int, tokens: list[Token] | None, source: str, dialect: Dialect, label: str
) -> Parsed:
    if tokens is None:
        return Parsed(
            text, line, error=f"cannot be read as {label} SQL: an unterminated string, quoted name or comment"
        )
    try:
        trees = dialect.parser(error_level=ErrorLevel.RAISE).parse(tokens, source)
    except ParseError as err:
        return Parsed(text, line, error=_parse_message(err, label))
    except (SqlglotError, RecursionError, ValueError) as err:
        return Parsed(text, line, error=f"cannot be parsed as {label} SQL: {_first_line(err)}")
    except Exception as err:  # sqlglot's parser trips over some broken input (AttributeError…)
        return Parsed(
            text, line, error=f"cannot be parsed as {label} SQL ({type(err).__name__}: {_first_line(err)})"
        )
    trees = [t for t in trees if t is not None]
    if not trees:
        return Parsed(text, line)
    return Parsed(text, line, tree=trees[0])


def _first_line(err: Exception) -> str:
    text = _ANSI.sub("", str(err)).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _parse_message(err: ParseError, label: str) -> str:
    first = err.errors[0] if err.errors else {}
    what = first.get("description") or _ANSI.sub("", str(err)).splitlines()[0]
    where = ""
    if first.get("line"):
        where = f" at line {first['line']}, column {first.get('col')}"
    near = (first.get("highlight") or "").strip()
    return f"cannot be parsed as {label} SQL: {what}{where}" + (f", near {near!r}" if near else "")
