"""Property tests for every built-in task loader: any file is either loaded correctly or refused
with a user error (`ElicitError`) that names the file; never a traceback from deep inside, and
never a load that quietly reads something else.

Each task's default files are written into a fresh data directory ($ELICIT_DATA_DIR) and
loaded with split="all". Inputs: rows generated in the task's own format (a correct load is
checked against what the task promises: claims per row, gold from the row's label, the
consistency structure); the same rows with one field dropped, emptied, retyped, blown up or
made odd unicode; 200,000-character fields; random bytes and broken gzip; other encodings
(latin-1, cp1252, UTF-16 with BOM); empty files, header-only tables, JSON nested too deep or
with a 5,000-digit number. About 45 s. The claims format has its own file,
test_claims_properties.py.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elicit.errors import DataError, ElicitError
from elicit.tasks import CLAIM_SUFFIX, Consistency, LoadOptions, TaskData, get_task, load_task
from elicit.tasks.common import POOL
from elicit.tasks.ethics import blog_items
from elicit.tasks.rows import Row as SourceRow
from elicit.tasks.rows import Source

SETTINGS = settings(max_examples=25, deadline=None)

Row = dict[str, Any]
Rows = list[list[Row]]  # rows per file, in the order of `files`

# ---------------------------------------------------------------------- text strategies

#: Any text with something visible in it (all of unicode but surrogates, controls included).
anytext = st.text(min_size=1, max_size=30).filter(lambda s: bool(s.strip()))
#: Visible text without whitespace or controls, for fields the checks look up in prompts.
word = st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=12
)
bit = st.sampled_from(["0", "1"])


def truthy(value: Any) -> int:
    return int(str(value).strip().lower() in ("1", "true"))


# ---------------------------------------------------------------------- rows of each format


@st.composite
def pairs(draw: st.DrawFn, file: str) -> list[Row]:
    """alpaca-comparison / truthfulqa-preference: one or both orders of each pair."""
    rows: list[Row] = []
    for cid in range(draw(st.integers(1, 3))):
        q, a = draw(anytext), draw(word)
        b = draw(word.filter(lambda s, a=a: s != a))
        label = draw(st.sampled_from([True, False, 1, 0]))
        rows.append(
            {"question": q, "choice": a, "choice_2": b, "label": label, "consistency_id": cid}
        )
        if draw(st.booleans()):
            back = {"question": q, "choice": b, "choice_2": a, "label": not label}
            rows.append({**back, "consistency_id": cid, "preference_type": "x"})
    return rows


@st.composite
def gsm8k(draw: st.DrawFn, file: str) -> list[Row]:
    rows: list[Row] = []
    for cid in range(draw(st.integers(1, 3))):
        answers = draw(st.lists(st.sampled_from(["12", "$1,000.00", "7.50", "ten"]), min_size=1))
        correct = draw(st.sampled_from(answers))
        for answer in answers:  # labels agree with the answers: one correct answer per problem
            cot = f"{draw(anytext)} The answer is {answer}."
            rows.append(
                {
                    "question": draw(anytext),
                    "cot": cot,
                    "answer": answer,
                    "label": answer == correct,
                    "consistency_id": cid,
                }
            )
    return rows


@st.composite
def dialogues(draw: st.DrawFn, file: str) -> list[Row]:
    rows: list[Row] = []
    for _ in range(draw(st.integers(1, 2))):
        context = f"\n\nHuman: {draw(word)} {draw(anytext)}\n\nAssistant:"
        good = draw(word)
        bad = draw(word.filter(lambda s, good=good: s != good))
        rows.append({"chosen": f"{context} {good}", "rejected": f"{context} {bad}"})
    return rows


def boolq_row(file: str) -> st.SearchStrategy[Row]:
    if "no_context" in file:
        template = st.just("question: {}")
    else:
        template = word.map(lambda p: f"passage: {p}\nquestion: {{}}")
    return st.fixed_dictionaries(
        {"prompt": template, "subject": anytext, "target_new": bit.map(lambda b: {"str": b})}
    )


@st.composite
def sciq(draw: st.DrawFn, file: str) -> list[Row]:
    n = draw(st.integers(2, 4))  # at least two different answers: distractors come from them
    return [
        {"question": draw(anytext), "correct_answer": f"{i}{draw(word)}", "support": draw(anytext)}
        for i in range(n)
    ]


def rows_of(row: Callable[[str], st.SearchStrategy[Row]]) -> Callable[[str], Any]:
    return lambda file: st.lists(row(file), min_size=1, max_size=4)


def dicts(**fields: st.SearchStrategy[Any]) -> Callable[[str], Any]:
    return rows_of(lambda file: st.fixed_dictionaries(fields))


# ---------------------------------------------------------------------- what a correct load is


def claims_per_row(
    gold: Callable[[Row], int | None], shown: Callable[[Row], str]
) -> Callable[[Rows, TaskData], None]:
    """One claim per row (none when gold is None: a dropped row), in file order."""

    def expect(rows: Rows, data: TaskData) -> None:
        kept = [r for file_rows in rows for r in file_rows if gold(r) is not None]
        assert len(data) == len(kept)
        for ex, r in zip(data, kept, strict=True):
            assert data.gold[ex.uid] == gold(r)
            assert shown(r) in ex.prompt

    return expect


def by_group(data: TaskData) -> dict[str, list[tuple[str, int, str]]]:
    groups: dict[str, list[tuple[str, int, str]]] = defaultdict(list)
    for ex in data:
        groups[ex.group].append((ex.key, data.gold[ex.uid], ex.prompt))
    return groups


def expect_pairs(rows: Rows, data: TaskData, files: tuple[str, ...]) -> None:
    """Both orders of every pair; the True one shows the preferred response first."""
    winners = {}  # group -> "Response 1: preferred\nResponse 2: other\n"
    for file, file_rows in zip(files, rows, strict=True):
        stem = Path(file).name.split(".")[0]
        for r in file_rows:
            good, bad = (r["choice"], r["choice_2"])[:: 1 if truthy(r["label"]) else -1]
            winners.setdefault(
                f"{stem}/{r['consistency_id']}", f"Response 1: {good}\nResponse 2: {bad}\n"
            )
    groups = by_group(data)
    assert groups.keys() == winners.keys() and len(data) == 2 * len(winners)
    for group, members in groups.items():
        true = [p for _, g, p in members if g == 1]
        assert len(true) == 1 and winners[group] in true[0]


def expect_hh(rows: Rows, data: TaskData) -> None:
    winners = [r["chosen"].rsplit("Assistant:", 1)[1].strip() for f in rows for r in f]
    groups = list(by_group(data).values())
    assert len(groups) == len(winners)
    for members, winner in zip(groups, winners, strict=True):
        [true] = [p for _, g, p in members if g == 1]
        assert true.count(f"Response 1: {winner}\n") == 1


def expect_boolq(rows: Rows, data: TaskData) -> None:
    flat = [r for f in rows for r in f]
    assert len(data) == len(flat)
    for ex, r in zip(data, flat, strict=True):
        claimed_yes = ex.prompt.endswith(f"The answer is yes.\n{CLAIM_SUFFIX}")
        assert data.gold[ex.uid] == int(claimed_yes == bool(truthy(r["target_new"]["str"])))
        assert ("Passage: " in ex.prompt) == r["prompt"].startswith("passage:")


def expect_sciq(rows: Rows, data: TaskData) -> None:
    flat = [r for f in rows for r in f]
    groups = list(by_group(data).values())
    assert len(groups) == len(flat)
    for members, r in zip(groups, flat, strict=True):
        correct = r["correct_answer"]
        assert sorted(g for _, g, _ in members) == [0, 1]
        true = next(m for m in members if m[1] == 1)
        assert true[0] == correct.lower() and f"The answer is {correct}." in true[2]


def expect_cosmosqa(rows: Rows, data: TaskData) -> None:
    flat = [r for f in rows for r in f]
    groups = list(by_group(data).values())
    assert len(groups) == len(flat)
    for members, r in zip(groups, flat, strict=True):
        assert [g for _, g, _ in members] == [int(i == int(r["label"])) for i in range(4)]


def expect_blog(rows: Rows, data: TaskData) -> None:
    kept = [r for f in rows for r in f if r["text"].strip()]
    assert len(data) == len(kept)
    for ex, r in zip(data, kept, strict=True):
        assert ex.group == f"author/{r['id'].strip()}"
        assert data.gold[ex.uid] == int(ex.key == r["gender"].strip().lower())
        assert " ".join(r["text"].split()) in ex.prompt


def collapse(field: str) -> Callable[[Row], str]:
    return lambda r: " ".join(r[field].split())


# ---------------------------------------------------------------------- the task table


@dataclass(frozen=True)
class Format:
    rows: Callable[[str], Any]  # file name -> strategy for the rows of that file
    expect: Callable[[Rows, TaskData], None]  # checks a load of these rows
    #: Fields every row needs: dropping or emptying one must be an error.
    required: tuple[str, ...]
    #: Fields the task reads that may be empty (a null final answer, an empty post).
    optional: tuple[str, ...] = ()
    #: Whether these rows make any claim (a task may skip rows; none left is an error).
    any_claims: Callable[[Rows], bool] = lambda rows: True


FORMATS: dict[str, Format] = {
    "truthfulqa": Format(
        dicts(
            question=anytext,
            choice=anytext,
            label=st.sampled_from([0, 1]),
            consistency_id=st.integers(0, 3),
        ),
        claims_per_row(lambda r: truthy(r["label"]), lambda r: r["question"]),
        ("question", "choice", "label", "consistency_id"),
    ),
    "gsm8k-verification": Format(
        gsm8k,
        claims_per_row(lambda r: truthy(r["label"]), lambda r: r["question"]),
        ("question", "cot", "label", "consistency_id"),
        optional=("answer",),
    ),
    **{
        name: Format(
            pairs,
            lambda rows, data, name=name: expect_pairs(rows, data, files_of(name)),
            ("question", "choice", "choice_2", "label", "consistency_id"),
        )
        for name in ("alpaca-comparison", "truthfulqa-preference")
    },
    "hh-comparison": Format(dialogues, expect_hh, ("chosen", "rejected")),
    "sst2": Format(
        lambda file: st.lists(
            st.fixed_dictionaries(
                {"label": bit, ("sentence" if "train" in file else "content"): anytext}
            ),
            min_size=1,
            max_size=4,
        ),
        claims_per_row(
            lambda r: int(r["label"]),
            lambda r: collapse("sentence" if "sentence" in r else "content")(r),
        ),
        ("label", "sentence", "content"),
    ),
    "imdb": Format(
        dicts(text=anytext, label=st.sampled_from(["pos", "neg", "positive", "negative"])),
        claims_per_row(lambda r: int(r["label"].startswith("pos")), collapse("text")),
        ("text", "label"),
    ),
    "boolq": Format(rows_of(boolq_row), expect_boolq, ("prompt", "subject", "target_new")),
    "sciq": Format(sciq, expect_sciq, ("question", "correct_answer")),
    "cosmosqa": Format(
        dicts(
            id=word,
            context=anytext,
            question=anytext,
            answer0=anytext,
            answer1=anytext,
            answer2=anytext,
            answer3=anytext,
            label=st.sampled_from([0, 1, 2, 3, "2"]),
        ),
        expect_cosmosqa,
        ("context", "question", "answer0", "answer1", "answer2", "answer3", "label"),
    ),
    "anli": Format(
        dicts(uid=word, context=anytext, hypothesis=anytext, label=st.sampled_from("enc")),
        claims_per_row(
            lambda r: None if r["label"] == "n" else int(r["label"] == "e"),
            lambda r: r["hypothesis"].strip(),
        ),
        ("context", "hypothesis", "label"),
        any_claims=lambda rows: any(r["label"] != "n" for f in rows for r in f),
    ),
    "ethics-commonsense": Format(
        dicts(label=bit, input=anytext, is_short=st.just("True"), edited=st.just("False")),
        claims_per_row(lambda r: 1 - int(r["label"]), lambda r: r["input"].strip()),
        ("label", "input"),
    ),
    "ethics-deontology": Format(
        dicts(label=bit, scenario=anytext, excuse=anytext),
        claims_per_row(lambda r: int(r["label"]), lambda r: r["excuse"].strip()),
        ("label", "scenario", "excuse"),
    ),
    "ethics-justice": Format(
        dicts(label=bit, scenario=anytext),
        claims_per_row(lambda r: int(r["label"]), lambda r: r["scenario"].strip()),
        ("label", "scenario"),
    ),
    "ethics-virtue": Format(
        dicts(label=bit, scenario=st.tuples(anytext, word).map(lambda t: f"{t[0]} [SEP] {t[1]}")),
        claims_per_row(
            lambda r: int(r["label"]), lambda r: f"is {r['scenario'].split('[SEP] ')[-1]}."
        ),
        ("label", "scenario"),
    ),
    "blog-gender": Format(
        dicts(
            id=word,
            gender=st.sampled_from(["male", "female", "Female"]),
            age=st.just("15"),
            topic=anytext,
            sign=word,
            date=st.just("14,May,2004"),
            text=st.one_of(anytext, st.sampled_from(["", "   "])),
        ),
        expect_blog,
        ("id", "gender"),
        optional=("text",),
        any_claims=lambda rows: any(r["text"].strip() for f in rows for r in f),
    ),
}
BUILTIN = sorted(FORMATS)


def test_every_builtin_task_is_covered() -> None:
    from elicit.tasks import task_names

    file_tasks = [n for n in task_names() if n != "claims" and not get_task(n).generated]
    assert file_tasks == BUILTIN


def files_of(task: str) -> tuple[str, ...]:
    """The files split="all" reads, in the order it reads them."""
    spec = get_task(task).data_files
    if POOL in spec:
        return spec[POOL]
    return tuple(f for s in ("train", "test") for f in spec.get(s, ()))


# ---------------------------------------------------------------------- writing and loading

DROP = "<drop the field>"


def render(rows: list[Row], file: str, ascii: bool = True) -> str:
    """`rows` in the format of `file` (by extension, .gz excluded); JSON with non-ASCII text
    escaped or raw (then U+2028 and U+0085 stand unescaped inside strings)."""
    name = file.removesuffix(".gz")
    if name.endswith(".json"):
        return json.dumps(rows, indent=1, ensure_ascii=ascii)
    if name.endswith(".jsonl"):
        return "".join(json.dumps(r, ensure_ascii=ascii) + "\n" for r in rows)
    header = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t" if name.endswith(".tsv") else ",")
    writer.writerow(header)
    for r in rows:
        writer.writerow(["" if r.get(k) is None else r[k] for k in header])
    return buf.getvalue()


def encode(text: str, file: str, encoding: str = "utf-8") -> bytes:
    raw = text.encode(encoding, errors="surrogatepass" if encoding == "utf-8" else "strict")
    return gzip.compress(raw, mtime=0) if file.endswith(".gz") else raw


@contextmanager
def data_dir(contents: dict[str, bytes]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for file, raw in contents.items():
            (root / file).parent.mkdir(parents=True, exist_ok=True)
            (root / file).write_bytes(raw)
        with mock.patch.dict(os.environ, {"ELICIT_DATA_DIR": tmp}):
            yield root


def load(task: str, contents: dict[str, bytes]) -> TaskData | ElicitError:
    """The task loaded from these files, or the user error it raised (which must name a file
    that was written, or the task)."""
    with data_dir(contents):
        try:
            data = load_task(task, LoadOptions(split="all"))
        except ElicitError as e:
            names = [Path(f).name for f in contents]
            assert any(n in str(e) for n in names), str(e)
            return e
    # gsm8k's labels come from the file as they are (the released file has groups where one
    # answer is labelled both ways), so only the structure the loaders build is checked here.
    check_structure(task, data, gold_structure=task != "gsm8k-verification")
    return data


def check_structure(task: str, data: TaskData, *, gold_structure: bool = True) -> None:
    """What every load of `task` promises, whatever the rows said."""
    assert data.task == task and data.consistency == get_task(task).consistency
    uids = [ex.uid for ex in data]
    assert len(set(uids)) == len(uids) and all(u.startswith(f"{task}/") for u in uids)
    assert all(ex.prompt.endswith("\n" + CLAIM_SUFFIX) and ex.group for ex in data)
    for ex in data:
        ex.prompt.encode("utf-8")  # real text (no lone surrogate) that a tokenizer can take
    assert data.has_gold and set(data.gold.values()) <= {0, 1}
    groups = by_group(data)
    if data.consistency is Consistency.COMPARISON:
        for members in groups.values():
            assert sorted(k for k, _, _ in members) == ["ab", "ba"]
            assert sorted(g for _, g, _ in members) == [0, 1]
    elif data.consistency is Consistency.ANSWER and gold_structure:
        for members in groups.values():
            assert len({k for k, g, _ in members if g == 1}) <= 1 and all(k for k, _, _ in members)


def generated(task: str) -> st.SearchStrategy[Rows]:
    fmt = FORMATS[task]
    return st.tuples(*(fmt.rows(f) for f in files_of(task))).map(list)


def written(task: str, rows: Rows, encoding: str = "utf-8", ascii: bool = True) -> dict[str, bytes]:
    files = files_of(task)
    return {f: encode(render(r, f, ascii), f, encoding) for f, r in zip(files, rows, strict=True)}


# ---------------------------------------------------------------------- properties


@pytest.mark.parametrize("task", BUILTIN)
@SETTINGS
@given(data=st.data())
def test_rows_in_the_task_format_load_correctly(task: str, data: st.DataObject) -> None:
    rows = data.draw(generated(task))
    expect_load(task, rows, load(task, written(task, rows, ascii=data.draw(st.booleans()))))


def expect_load(task: str, rows: Rows, result: TaskData | ElicitError) -> None:
    """`result` is the correct load of `rows`, or the error for rows that make no claim."""
    if not FORMATS[task].any_claims(rows):
        assert isinstance(result, DataError) and "no claims" in str(result), str(result)
        return
    assert isinstance(result, TaskData), str(result)
    check_structure(task, result)
    FORMATS[task].expect(rows, result)


ODD: list[Any] = [
    DROP,
    None,
    "",
    "   ",
    [1],
    {"a": 1},
    True,
    False,
    0,
    1,
    7,
    -1.5,
    float("nan"),
    10**30,
    "x" * 200_000,
    "ünï 中文 🎉 \u2028 \x85 \x00 \r",
    "\ud800 lone surrogate",
]


@pytest.mark.parametrize("task", BUILTIN)
@SETTINGS
@given(data=st.data())
def test_rows_with_one_odd_field(task: str, data: st.DataObject) -> None:
    """Drop, empty, retype or blow up one field of one row (or drop a column everywhere)."""
    rows = data.draw(generated(task))
    f = data.draw(st.integers(0, len(rows) - 1))
    i = data.draw(st.integers(0, len(rows[f]) - 1))
    field = data.draw(st.sampled_from([*rows[f][i], "extra"]))
    value = data.draw(st.sampled_from(ODD))
    everywhere = value is DROP and data.draw(st.booleans())
    tabular = files_of(task)[f].removesuffix(".gz").endswith((".csv", ".tsv"))
    mutated = [[dict(r) for r in file_rows] for file_rows in rows]
    for j, r in enumerate(mutated[f]):
        if j == i or everywhere:
            if value is DROP:
                r.pop(field, None)
            else:
                r[field] = value
    result = load(task, written(task, mutated, ascii=data.draw(st.booleans())))
    empty = value in (DROP, None, "", "   ") or (not tabular and isinstance(value, list | dict))
    fmt = FORMATS[task]
    if field in fmt.required and empty:
        assert isinstance(result, ElicitError), f"{field}={value!r} was accepted"
    elif field not in (*fmt.required, *fmt.optional) and "\ud800" not in str(value):
        expect_load(task, rows, result)  # a field the task does not read changes nothing
    # Otherwise a field the task reads holds an odd but possible value: any clear outcome.


@pytest.mark.parametrize("task", BUILTIN)
@SETTINGS
@given(data=st.data(), encoding=st.sampled_from(["utf-8-sig", "utf-16", "latin-1", "cp1252"]))
def test_rows_in_other_encodings(task: str, data: st.DataObject, encoding: str) -> None:
    rows = data.draw(generated(task))
    try:
        contents = written(task, rows, encoding)
    except UnicodeEncodeError:
        return  # not representable in that encoding
    result = load(task, contents)
    if encoding == "utf-16":  # its byte-order mark is never UTF-8: the message says what it is
        assert isinstance(result, DataError) and "UTF-16" in str(result), str(result)
    elif encoding == "utf-8-sig":
        expect_load(task, rows, result)


@pytest.mark.parametrize("task", BUILTIN)
@SETTINGS
@given(data=st.data(), junk=st.binary(max_size=600), compress=st.booleans())
def test_random_bytes_in_one_file(
    task: str, data: st.DataObject, junk: bytes, compress: bool
) -> None:
    rows = data.draw(generated(task))
    contents = written(task, rows)
    file = data.draw(st.sampled_from(sorted(contents)))
    if file.endswith(".gz"):
        junk = gzip.compress(junk) if compress else b"\x1f\x8b\x08\x00" + junk
    contents[file] = junk
    load(task, contents)


#: Files that hold no record, or nothing JSON can read: nothing, blank lines, a BOM, empty
#: JSON, a table that is only its header, nesting too deep for the parser, an integer of more
#: digits than Python converts.
BROKEN = ["", "\n", "  \n\n", "\ufeff", "[]", "{}", "null", "header", "[" * 50_000, "1" * 5000]


@pytest.mark.parametrize("task", BUILTIN)
@settings(max_examples=2 * len(BROKEN), deadline=None)
@given(data=st.data(), broken=st.sampled_from(BROKEN))
def test_empty_or_broken_files_are_refused_by_name(
    task: str, data: st.DataObject, broken: str
) -> None:
    rows = data.draw(generated(task))
    file = files_of(task)[0]
    if broken == "header":  # tables only; for JSON the first line is a record or a bracket
        tabular = file.endswith((".csv", ".tsv"))
        broken = render(rows[0], file).splitlines()[0] + "\n" if tabular else ""
    contents = written(task, rows)
    contents[file] = encode(broken, file)
    result = load(task, contents)
    assert isinstance(result, DataError) and Path(file).name in str(result), str(result)


@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_broken_gzip_is_refused_by_name(data: st.DataObject) -> None:
    """A gzip header followed by no valid deflate stream (zlib's own error type)."""
    contents = written("hh-comparison", data.draw(generated("hh-comparison")))
    file = "hh_rlhf/helpful-online_test.jsonl.gz"
    contents[file] = b"\x1f\x8b\x08\x00" + b"\x00" * 11
    result = load("hh-comparison", contents)
    assert isinstance(result, DataError) and "not a valid gzip file" in str(result)


#: A field of each task that holds free text, made 200,000 characters long in every row.
HUGE = {
    "truthfulqa": "choice",
    "gsm8k-verification": "cot",
    "alpaca-comparison": "question",
    "truthfulqa-preference": "question",
    "hh-comparison": "chosen",
    "sst2": "sentence",
    "imdb": "text",
    "boolq": "subject",
    "sciq": "question",
    "cosmosqa": "context",
    "anli": "context",
    "ethics-commonsense": "input",
    "ethics-deontology": "excuse",
    "ethics-justice": "scenario",
    "ethics-virtue": "scenario",
    "blog-gender": "text",
}


@pytest.mark.parametrize("task", BUILTIN)
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_huge_fields_load(task: str, data: st.DataObject) -> None:
    """Longer than the csv module's default field limit (131,072 characters)."""
    rows = data.draw(generated(task))
    for r in (r for file_rows in rows for r in file_rows):
        field = "content" if task == "sst2" and "content" in r else HUGE[task]
        r[field] = f"{r[field]} {'y' * 200_000}"
    result = load(task, written(task, rows))
    expect_load(task, rows, result)
    assert isinstance(result, DataError) or min(len(ex.prompt) for ex in result) > 200_000


def test_messages_name_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "dev.tsv").write_text("label\treview\n1\tgood\n", encoding="utf-8")
    with pytest.raises(DataError, match="no column 'sentence' or 'content'"):
        load_task("sst2", LoadOptions(data=str(tmp_path / "dev.tsv")))
    # A null post (possible from a Hugging Face data set) is not the text "None".
    row = {"id": "1", "gender": "male", "text": None}
    source = Source("hf:blogs:train", "blogs", tuple(row), (SourceRow(0, 1, row),), "row")
    with pytest.raises(DataError, match="hf:blogs:train, row 1: column 'text'"):
        list(blog_items(source))
