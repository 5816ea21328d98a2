"""Issue 20, item 5 (and 8's gzip bomb): rows are never lost silently in a CSV, and a small file
cannot make elicit read gigabytes.

The files are generated: random claims with quoted fields that span lines, literal quotes
inside unquoted fields ("5\" screen"), doubled quotes, and then one quote left open at a random
row. The open quote must be reported at the line where it stands; every well-formed file must
come back with all of its rows."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest
from adversary import cli, refused

from elicit.errors import DataError
from elicit.tasks import rows as rows_module
from elicit.tasks.rows import read_source

WORDS = ["alpha", "beta", "gamma", 'a 5" screen', "x,y", 'say ""hi""', "two\nlines"]


def _cell(text: str) -> str:
    if "," in text or "\n" in text or text.startswith('"'):
        return '"' + text.replace('"', '""') + '"'
    return text  # an unquoted field may hold a literal quote (5" screen): it is kept as is


def random_csv(rng: random.Random, n: int) -> tuple[str, list[int]]:
    """A valid CSV of n rows (uid,text,label) and the line each row starts on."""
    lines, starts, line = ["uid,text,label"], [], 2
    for i in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
        starts.append(line)
        row = f"u{i},{_cell(text)},{i % 2}"
        lines.append(row)
        line += row.count("\n") + 1
    return "\n".join(lines) + "\n", starts


@pytest.mark.parametrize("seed", range(12))
def test_well_formed_files_keep_every_row(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    text, starts = random_csv(rng, rng.randint(3, 30))
    path = tmp_path / "claims.csv"
    path.write_text(text, encoding="utf-8")
    source = read_source(path)
    assert [r.line for r in source.rows] == starts
    assert [r.data["uid"] for r in source.rows] == [f"u{i}" for i in range(len(starts))]


@pytest.mark.parametrize("seed", range(40))
def test_an_unclosed_quote_is_named_at_its_line(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(3, 30)
    text, starts = random_csv(rng, n)
    ends = [*starts[1:], text.count("\n") + 1]
    single = [i for i in range(n) if ends[i] - starts[i] == 1]  # rows on one line
    if not single:
        pytest.skip("every generated row spans lines")
    victim = rng.choice(single)
    lines = text.split("\n")
    first = starts[victim] - 1  # 0-based index of the row's first line
    lines[first] = f'u{victim},"opened and never closed,{victim % 2}'
    path = tmp_path / "claims.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_source(path)
    message = str(e.value)
    # At the end of the file the quote swallows everything; earlier, a later quote closes it
    # and the merged row has too many fields: either way the line and the cause are named.
    assert f"line {starts[victim]}" in message, message
    assert "never closed" in message or "may never be closed" in message, message


def test_the_cli_names_the_line_of_an_unclosed_quote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "claims.csv"
    path.write_text(
        'uid,text,label\nc0,fine,1\nc1,"oops,0\nc2,lost,1\nc3,lost too,0\n', encoding="utf-8"
    )
    outcome = cli(capsys, "score", "--task", "claims", "--data", str(path), "--backend", "fake",
                  "--out", str(tmp_path / "run"), "-q")  # fmt: skip
    refused(outcome, str(path), "line 3", "never closed")


def test_a_gzip_bomb_is_refused_before_memory_runs_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 64 MiB of zeros compress to ~64 KiB; with the cap at 1 MiB the same code path refuses a
    # multi-gigabyte bomb without this test having to build one.
    monkeypatch.setenv("ELICIT_MAX_DATA_BYTES", str(1 << 20))
    bomb = tmp_path / "claims.csv.gz"
    with gzip.open(bomb, "wb") as fh:
        fh.write(b"uid,text,label\n")
        block = b"0" * (1 << 20)
        for _ in range(64):
            fh.write(block)
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(DataError, match="ELICIT_MAX_DATA_BYTES") as e:
        read_source(bomb)
    assert "decompressed" in str(e.value)


def test_an_endless_device_as_data_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELICIT_MAX_DATA_BYTES", str(1 << 20))
    link = tmp_path / "claims.csv"
    link.symlink_to("/dev/zero")
    with pytest.raises(DataError, match="larger than"):
        read_source(link)


def test_the_default_cap_and_a_bad_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELICIT_MAX_DATA_BYTES", raising=False)
    assert rows_module.max_data_bytes() == rows_module.MAX_DATA_BYTES >= 1 << 30
    monkeypatch.setenv("ELICIT_MAX_DATA_BYTES", "lots")
    with pytest.raises(DataError, match="ELICIT_MAX_DATA_BYTES='lots'"):
        rows_module.max_data_bytes()
