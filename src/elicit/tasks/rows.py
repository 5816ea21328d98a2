"""Reading raw rows from data files and Hugging Face datasets, with line numbers for errors.

Every task formatter takes a `Source`: a name for messages, the column names, and `Row`s (a
plain dict plus the 1-based line it came from). Files are read by extension:

- `.jsonl` (one object per line; blank lines skipped), `.json` (a list of objects, or an
  object whose single list value holds them; the "line" is then the 1-based entry number),
- `.csv` / `.tsv` (header row = line 1, so the first data row is line 2; a quoted field that
  spans lines is reported at the line where the row starts),
- `.lst` / `.txt` (one value per line, column `value`),
- any of these with `.gz` appended.

Text must be UTF-8; a leading UTF-8 byte-order mark is dropped silently, a UTF-16 or UTF-32 one
is named in the error. CSV fields may be of any length; a JSON string may not hold a lone
surrogate escape ("\\ud800"), which is no character.

`hf:<id>[:<split>]` goes through `datasets.load_dataset` (imported lazily; a clear `DataError`
when it is missing or the data set cannot be reached offline).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elicit.errors import DataError

#: The file extensions `read_source` understands (also with ".gz" appended).
EXTENSIONS = (".jsonl", ".json", ".csv", ".tsv", ".lst", ".txt")


@dataclass(frozen=True)
class Row:
    """One raw record: its fields as read, and where it came from (1-based line / entry)."""

    index: int
    line: int
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Source:
    """The rows of one file (or one Hugging Face split) and how to name it in messages.

    name: the path (or "hf:<id>:<split>") used in error messages.
    stem: a short stable tag used inside uids (file name without extensions).
    unit: what `Row.line` counts: "line" for text formats, "entry" for a JSON list.
    """

    name: str
    stem: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    unit: str = "line"

    def where(self, row: Row) -> str:
        return f"{self.name}, {self.unit} {row.line}"


def file_stem(path: Path) -> str:
    name = path.name
    if name.endswith(".gz"):
        name = name[:-3]
    return name.rsplit(".", 1)[0] if "." in name else name


#: Byte-order marks of the encodings people most often save "Unicode" text in by mistake.
_BOMS = {
    codecs.BOM_UTF32_LE: "utf-32",
    codecs.BOM_UTF32_BE: "utf-32",
    codecs.BOM_UTF16_LE: "utf-16",
    codecs.BOM_UTF16_BE: "utf-16",
}


def _decode(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        bom = next((enc for mark, enc in _BOMS.items() if raw.startswith(mark)), None)
        if bom is not None:  # checked UTF-32 first: its little-endian BOM starts like UTF-16's
            raise DataError(
                f"{path}: the file is {bom.upper()} (it starts with a {bom.upper()} byte-order "
                "mark), but elicit reads only UTF-8. Re-save it as UTF-8, e.g. "
                f"`iconv -f {bom} -t utf-8 {path.name} > fixed.{path.name.split('.')[-1]}`."
            ) from None
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(
            f"{path}, line {line}: byte {raw[err.start]:#04x} is not valid UTF-8 (the only "
            "encoding elicit reads). Re-save the file as UTF-8, e.g. "
            f"`iconv -f latin1 -t utf-8 {path.name} > fixed.{path.name.split('.')[-1]}`."
        ) from None


#: The most bytes of data read from one file, after decompression (override with the
#: environment variable ELICIT_MAX_DATA_BYTES). A few kilobytes of gzip can expand to many
#: gigabytes, and a path can name an endless device; both would exhaust memory before any row
#: is checked.
MAX_DATA_BYTES = 2 << 30


def max_data_bytes() -> int:
    value = os.environ.get("ELICIT_MAX_DATA_BYTES", "")
    if not value:
        return MAX_DATA_BYTES
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        raise DataError(
            f"ELICIT_MAX_DATA_BYTES={value!r} is not a positive whole number of bytes; set it "
            "to e.g. 8589934592 (8 GiB) or unset it"
        )
    return limit


def _read_capped(fh: io.BufferedIOBase, path: Path, limit: int, what: str) -> bytes:
    raw = fh.read(limit + 1)
    if len(raw) > limit:
        raise DataError(
            f"{path}: {what} is larger than {limit:,} bytes, the most elicit reads from one data "
            "file (a gzip bomb or an endless device looks like this). If the file is real, "
            "raise the cap with ELICIT_MAX_DATA_BYTES=<bytes>, or split the file."
        )
    return raw


def _read_text(path: Path) -> str:
    limit = max_data_bytes()
    try:
        with path.open("rb") as fh:
            raw = _read_capped(fh, path, limit, "the file")
    except OSError as err:
        raise DataError(f"{path}: cannot read the file ({err.strerror}). Check the path.") from None
    if path.name.endswith(".gz"):
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:  # decompressed up to the cap
                raw = _read_capped(gz, path, limit, "the decompressed data")
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(f"{path}: not a valid gzip file ({err}). Re-compress it.") from None
    return _decode(raw, path)


def _kind(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    for ext in EXTENSIONS:
        if name.endswith(ext):
            return ext
    raise DataError(
        f"{path}: unknown file type. elicit reads {', '.join(EXTENSIONS)} (optionally .gz); "
        "rename the file or convert it."
    )


def _object_rows(
    items: Sequence[Any], path: Path, unit: str, lines: Sequence[int], surrogates: bool
) -> list[Row]:
    rows = []
    for i, (item, line) in enumerate(zip(items, lines, strict=True)):
        if not isinstance(item, dict):
            raise DataError(
                f"{path}, {unit} {line}: expected a JSON object with named fields, got "
                f"{type(item).__name__}. Write one object per record, e.g. "
                '{"text": "...", "label": 1}.'
            )
        # A lone surrogate is not a character: it would fail later, in a tokenizer or when
        # labels are written, far from the file.
        if surrogates and (bad := _surrogate(item)) is not None:
            raise DataError(
                f"{path}, {unit} {line}: the string {bad[:40]!r} holds an unpaired UTF-16 "
                "surrogate escape (\\uD800-\\uDFFF without its pair), which is not a "
                "character. Fix or drop that text."
            )
        rows.append(Row(index=i, line=line, data=item))
    return rows


def _surrogate(value: Any) -> str | None:
    """The first string in a decoded JSON value holding an unpaired surrogate, or None."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return v
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return None


def _parse_json(text: str, path: Path, line: int, fix: str) -> Any:
    """json.loads with every way it can fail (syntax, depth, 4300-digit integers) as a
    DataError at `line` (plus the error's own line)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(
            f"{path}, line {line + err.lineno - 1}: invalid JSON ({err.msg} at column "
            f"{err.colno}). {fix}"
        ) from None
    except (ValueError, RecursionError) as err:  # e.g. an integer of more than 4300 digits
        raise DataError(f"{path}, line {line}: unreadable JSON ({err}). {fix}") from None
    return doc


#: Only a \uD800-\uDFFF escape can decode to a surrogate (files are decoded as UTF-8).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _json_rows(text: str, path: Path, kind: str) -> tuple[list[Row], str]:
    surrogates = bool(_SURROGATE_ESCAPE.search(text))
    if kind == ".jsonl":
        items: list[Any] = []
        lines: list[int] = []
        # Records end at \n, \r\n or \r only (never raw inside a JSON string). Not
        # str.splitlines: U+2028 or U+0085 may stand raw inside a string, and it splits there.
        for n, line in enumerate(_LINE_BREAK.split(text), start=1):
            if not line.strip():
                continue
            fix = "Each line of a .jsonl file must be one complete JSON object."
            items.append(_parse_json(line, path, n, fix))
            lines.append(n)
        return _object_rows(items, path, "line", lines, surrogates), "line"
    doc = _parse_json(text, path, 1, "Fix the syntax, or use .jsonl with one object per line.")
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list)]
        if len(lists) == 1:
            doc = lists[0]
    if not isinstance(doc, list):
        raise DataError(
            f"{path}, line 1: expected a JSON list of objects, got {type(doc).__name__}. "
            "Write [{...}, {...}] or use .jsonl."
        )
    return _object_rows(doc, path, "entry", range(1, len(doc) + 1), surrogates), "entry"


#: The longest CSV field read: the csv module's default (131,072 characters) is shorter than
#: some real texts (long reviews, blog posts), and it is a process-wide setting, so it is raised
#: only while a file is read.
_FIELD_LIMIT = 2**31 - 1


def _table_rows(text: str, path: Path, kind: str) -> list[Row]:
    before = csv.field_size_limit(_FIELD_LIMIT)
    try:
        return _read_table(text, path, kind)
    finally:
        csv.field_size_limit(before)


def _read_table(text: str, path: Path, kind: str) -> list[Row]:
    delimiter = "\t" if kind == ".tsv" else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return []
    except csv.Error as err:
        raise DataError(f"{path}, line 1: unreadable header ({err}). Fix the CSV.") from None
    header = [h.strip() for h in header]
    rows: list[Row] = []
    spanning: list[tuple[int, int]] = []  # (first, last) line of rows that span lines
    start = reader.line_num + 1
    try:
        for cells in reader:
            end = reader.line_num
            if not cells or all(not c.strip() for c in cells):
                start = end + 1
                continue
            if len(cells) > len(header):
                spans = (
                    f" The row runs on to line {end}: a quote opened on line {start} may never "
                    'be closed (write a literal quote inside a quoted field as "").'
                    if end > start
                    else ""
                )
                raise DataError(
                    f"{path}, line {start}: {len(cells)} fields but the header has "
                    f"{len(header)}. Quote fields that contain the delimiter.{spans}"
                )
            data = dict(zip(header, cells, strict=False))
            rows.append(Row(index=len(rows), line=start, data=data))
            if end > start:
                spanning.append((start, end))
            start = end + 1
    except csv.Error as err:
        raise DataError(f"{path}, line {start}: unreadable CSV ({err}). Fix the quoting.") from None
    if rows and (not spanning or spanning[-1][0] != rows[-1].line):
        spanning.append((rows[-1].line, rows[-1].line))  # a quote left open on the last line
    _check_quotes_closed(text, path, delimiter, spanning)
    return rows


def _check_quotes_closed(
    text: str, path: Path, delimiter: str, rows: list[tuple[int, int]]
) -> None:
    """Outside strict mode the csv module takes a quote left open as the start of a field that
    runs on, across line breaks, to the next quote in the file or to its end: the rows between
    become part of one field and are lost without a word. Such a row spans lines; legitimate
    rows that span lines (a quoted text with line breaks) are rare, so each is re-read strictly:
    a quote that is never closed, or a "closing" quote followed by more text (the opening quote
    of a later field), is the sign."""
    if not rows:
        return
    lines = io.StringIO(text, newline="").readlines()
    for first, last in rows:
        strict = csv.reader(
            io.StringIO("".join(lines[first - 1 : last]), newline=""),
            delimiter=delimiter,
            strict=True,
        )
        try:
            for _ in strict:
                pass
        except csv.Error as err:
            if last == len(lines) and "end of data" in str(err):
                detail = f"the {last - first} line(s) after it would be read as part of one field"
            elif last > first:
                detail = (
                    f"lines {first + 1} to {last} would be read as part of one field, up to a "
                    f"quote on line {last}"
                )
            else:
                continue  # text after a closing quote on one line is read leniently, as before
            raise DataError(
                f"{path}, line {first}: a quoted field opened on this line is never closed, so "
                f"{detail} and their rows lost. Close the quote, or write a literal quote "
                'inside a quoted field as "".'
            ) from None


def read_source(path: Path) -> Source:
    """Read one data file into a `Source`. Raises `DataError` for anything unreadable or empty."""
    kind = _kind(path)
    text = _read_text(path)
    unit = "line"
    if kind in (".json", ".jsonl"):
        rows, unit = _json_rows(text, path, kind)
    elif kind in (".csv", ".tsv"):
        rows = _table_rows(text, path, kind)
    else:
        rows = [
            Row(index=i, line=i + 1, data={"value": v.strip()})
            for i, v in enumerate(text.splitlines())
        ]
    if not rows:
        raise DataError(f"{path}: the file has no records. Point --data at a non-empty file.")
    return make_source(str(path), file_stem(path), rows, unit)


def make_source(name: str, stem: str, rows: Sequence[Row], unit: str) -> Source:
    """A `Source` whose columns are every field name of `rows`, in first-seen order."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row.data))
    return Source(name=name, stem=stem, columns=tuple(columns), rows=tuple(rows), unit=unit)


def parse_hf(spec: str) -> tuple[str, str | None]:
    """Split "hf:<id>[:<split>]" into (id, split or None)."""
    body = spec.removeprefix("hf:")
    dataset, _, split = body.partition(":")
    if not dataset:
        raise DataError(f"{spec!r}: no data set id. Write hf:<id>[:<split>], e.g. hf:imdb:test.")
    return dataset, split or None


def read_hf(spec: str, split: str) -> Source:
    """Rows of a Hugging Face dataset split (`datasets` is imported only here)."""
    dataset, given = parse_hf(spec)
    split = given or split
    try:
        import datasets
    except ImportError:
        raise DataError(
            f"{spec}: reading Hugging Face data sets needs the `datasets` package. "
            "Install it (pip install datasets) or download the data and pass --data FILE."
        ) from None
    try:
        table = datasets.load_dataset(dataset, split=split)
    except Exception as err:  # network, missing split, missing data set: all user-fixable
        raise DataError(
            f"hf:{dataset}:{split}: cannot load this Hugging Face data set ({err}). Check the id "
            "and split, connect to the Hub (or set HF_DATASETS_OFFLINE=1 with a cached copy), "
            "or pass a local file with --data FILE."
        ) from None
    rows = tuple(Row(index=i, line=i + 1, data=dict(r)) for i, r in enumerate(table))
    if not rows:
        raise DataError(f"hf:{dataset}:{split}: the split is empty. Choose another split.")
    stem = f"hf-{dataset.replace('/', '-')}-{split}"
    return Source(
        name=f"hf:{dataset}:{split}",
        stem=stem,
        columns=tuple(rows[0].data),
        rows=rows,
        unit="row",
    )
