"""Where a task's data files come from: --data, $ELICIT_DATA_DIR, the Hub, the bundled sample.

A task names its files relative to a data root ("sst2/dev.tsv"). `locate` finds them, trying in
order:

1. `--data` (a file, a directory holding the files, or "hf:<id>[:<split>]"; handled by the
   task loader, not here; `--data bundled` reads only step 4);
2. `$ELICIT_DATA_DIR`, a folder laid out like the full data (PROVENANCE.md in the repository's
   data notes); a folder that lacks the task's files is passed over with a notice;
3. the Hugging Face Hub through `datasets`, at a pinned revision (`tasks.hub`): a copy in the
   local `datasets` cache is used without network; otherwise a download, when the Hub answers;
4. the sample that ships inside the package (`elicit/data/samples`, NOTICE.md there), for the
   datasets whose licence allows it. `elicit demo` reads only this (`--data bundled`), so its
   table is the same on every machine.

Nothing found is one `DataError` naming the three ways to get the data. The library never
looks for data folders around the working directory or the checkout.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from elicit.errors import DataError
from elicit.tasks.hub import HUB_FILES, HubUnavailable, fetch, hub_reachable, load_hub_file
from elicit.tasks.rows import Source, read_source

log = logging.getLogger("elicit")

ENV = "ELICIT_DATA_DIR"
#: The `--data` value that reads only the bundled sample.
BUNDLED = "bundled"


class Origin(enum.StrEnum):
    """Which of the sources a task's data was read from."""

    FLAG = "--data"
    ENV = "ELICIT_DATA_DIR"
    HUB = "hub"
    BUNDLED = "bundled sample"
    GENERATED = "generated"  # written by the task's own code (`tasks.generated`)


@dataclass(frozen=True)
class Located:
    """The sources of one read and where they came from."""

    origin: Origin
    sources: tuple[Source, ...]


def samples_dir() -> Path:
    """The folder of bundled samples inside the installed package."""
    return Path(str(resources.files("elicit"))) / "data" / "samples"


def sample_path(relative: str) -> Path | None:
    """The bundled sample of a data file, or None when the package carries none."""
    return find_file(samples_dir(), relative)


def env_root() -> Path | None:
    """$ELICIT_DATA_DIR as a directory, None when unset; an error when it is not a folder."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise DataError(
            f"{ENV}={value} is not a directory. Point it at the folder holding the data "
            "(sst2/, boolq/, icm_release/, ...), or unset it to use the Hub or the bundled "
            "samples."
        )
    return path


def find_file(root: Path, relative: str) -> Path | None:
    """`root/relative`, or its gzip-compressed copy (`.gz` appended), whichever exists."""
    for path in (root / relative, root / (relative + ".gz")):
        if path.is_file():
            return path
    return None


def _paths_in(root: Path, relatives: Sequence[str]) -> list[Path] | None:
    """Every file of `relatives` under `root` (see `find_file`), or None if one is missing."""
    paths = [find_file(root, r) for r in relatives]
    return [p for p in paths if p is not None] if all(paths) else None


def _hub_sources(relatives: Sequence[str], *, allow_download: bool) -> tuple[Source, ...]:
    refs = [HUB_FILES.get(r) for r in relatives]
    if not all(refs):
        raise HubUnavailable("no Hub dataset is registered for these files")
    return tuple(
        load_hub_file(r, ref, allow_download=allow_download)
        for r, ref in zip(relatives, refs, strict=True)
        if ref is not None
    )


#: Why a dataset (by its folder under the data root) ships no sample, and where to get it.
NOT_BUNDLED = {
    "icm_release": "The ICM paper's files (Wen et al. 2025) carry no licence, so no sample "
    "ships; the paper's repository (github.com/Jiaxin-Wen/Unsupervised-Elicitation) links them.",
    "sst2": "SST-2 states no licence, so no sample ships.",
    "imdb": "This IMDB subset states no licence, so no sample ships.",
    "sciq": "SciQ is CC BY-NC 3.0 (non-commercial), so no sample ships.",
    "anli": "ANLI is CC BY-NC 4.0 (non-commercial), so no sample ships.",
    "blog_authorship": "The Blog Authorship Corpus is for non-commercial research only, so no "
    "sample ships.",
}


def not_bundled_why(relative: str) -> str:
    """Why no sample ships for a data file ("" when one does or the reason is unknown)."""
    return NOT_BUNDLED.get(relative.split("/", 1)[0], "")


def how_to_get(name: str, relatives: Sequence[str]) -> str:
    """The three ways to get a task's data (and why no sample ships), for error messages."""
    hubs = sorted({HUB_FILES[r].repo for r in relatives if r in HUB_FILES})
    hub = (
        f"connect to the Hugging Face Hub with `datasets` installed (it reads {', '.join(hubs)} "
        "and caches it)"
        if hubs
        else "the Hub has no copy registered for this task"
    )
    files = ", ".join(relatives)
    note = not_bundled_why(relatives[0])
    why = f" {note}" if note else ""
    return (
        f"task {name}: no data found.{why} Get it one of three ways: pass --data FILE or DIR; "
        f"set {ENV} to a folder holding {files}; or {hub}."
    )


def locate(name: str, relatives: Sequence[str], *, bundled_only: bool = False) -> Located:
    """Read a task's files (relative to a data root) from the first source that has them all."""
    if not relatives:
        raise DataError(f"task {name} names no data files. Pass --data FILE.")
    if not bundled_only:
        root = env_root()
        if root is not None:
            paths = _paths_in(root, relatives)
            if paths is not None:
                return Located(Origin.ENV, tuple(read_source(p) for p in paths))
            log.warning(
                "%s=%s has no %s; looking on the Hub and in the bundled samples",
                ENV,
                root,
                ", ".join(r for r in relatives if find_file(root, r) is None),
            )
        try:
            return Located(Origin.HUB, _hub_sources(relatives, allow_download=True))
        except HubUnavailable as err:
            log.debug("task %s: Hub not used: %s", name, err)
    samples = _paths_in(samples_dir(), relatives)
    if samples is not None:
        return Located(Origin.BUNDLED, tuple(read_source(p) for p in samples))
    if bundled_only:
        raise DataError(
            f"task {name}: no sample of it ships with elicit. {not_bundled_why(relatives[0])} "
            "Pick a task with a bundled sample (`elicit tasks`), or drop --data bundled."
        )
    raise DataError(how_to_get(name, relatives))


@dataclass(frozen=True)
class Described:
    """Where a read would come from now (`origin` None: nowhere), a short place name, and
    whether the files are on this machine already (False: the Hub would download them)."""

    origin: Origin | None
    where: str
    local: bool


def describe(relatives: Sequence[str]) -> Described:
    """Where a read of these files would come from now, in `locate`'s order, reading and
    downloading nothing: the Hub counts when the files are in its local cache or it answers."""
    root = env_root()
    if root is not None and _paths_in(root, relatives) is not None:
        return Described(Origin.ENV, str(root), local=True)
    refs = [HUB_FILES.get(r) for r in relatives]
    hub_refs = [ref for ref in refs if ref is not None]
    if hub_refs and len(hub_refs) == len(refs):
        try:
            for ref in hub_refs:
                fetch(ref, allow_download=False)
            return Described(Origin.HUB, f"hf:{hub_refs[0].label} (cached)", local=True)
        except HubUnavailable:
            if hub_reachable():
                where = f"hf:{hub_refs[0].label} (downloaded on first use)"
                return Described(Origin.HUB, where, local=False)
    if _paths_in(samples_dir(), relatives) is not None:
        return Described(Origin.BUNDLED, "elicit/data/samples", local=True)
    return Described(None, "", local=False)
