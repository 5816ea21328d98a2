"""A LoRA adapter trained here, written as a llama.cpp adapter for the GGUF it was trained on.

    path = export_gguf_adapter(run / "sft" / "adapter", gguf_file("qwen2.5-coder-0.5b-instruct"),
                               run / "sft" / "adapter.gguf")
    lm = LlamaCppBackend("qwen2.5-coder-0.5b-instruct", lora=path)   # fine-tuned, at Q4 speed

Fine-tuning runs in transformers on the GGUF's weights dequantised to fp32; the adapter's
matrices are tiny and do not depend on the base's quantisation, so llama.cpp can add them to
its quantised weights (`W x + (alpha / r) B A x`) and generate with the fine-tuned model 2-6x
faster than transformers on a CPU (docs/BENCHMARKS.md, "Generation"). The outputs agree with
the merged fp32 model as closely as the base model's do between the two backends (the
quantisation is the difference); tests/training/test_gguf_adapter.py checks it.

The file is llama.cpp's adapter format: general.type = "adapter", adapter.type = "lora",
adapter.lora.alpha, and for every adapted weight `blk.N.attn_q.weight` two tensors
`blk.N.attn_q.weight.lora_a` (peft's lora_A, r x in) and `...lora_b` (lora_B, out x r).
Module names map to GGUF tensor names through the `gguf` package's own table, and every pair is
checked against the base file's tensor shapes, so an adapter of another model is refused.

Only architectures whose conversion to GGUF keeps the projection matrices as they are
(`SUPPORTED_ARCHITECTURES`) are written: Llama-family conversions permute the rows of the
query and key projections, which an adapter would have to follow.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from elicit.errors import ConfigError
from elicit.runs import atomic_write

#: GGUF architectures whose attention and MLP weights are stored as transformers has them.
SUPPORTED_ARCHITECTURES = ("qwen2", "qwen3", "gemma3")

_PEFT_PREFIX = "base_model.model."
_A, _B = ".lora_A.weight", ".lora_B.weight"


def export_gguf_adapter(adapter_dir: str | Path, base_gguf: str | Path, out: str | Path) -> Path:
    """Write the peft LoRA adapter in `adapter_dir` as a llama.cpp adapter of `base_gguf`."""
    import gguf

    adapter_dir, out = Path(adapter_dir), Path(out)
    alpha = _llama_alpha(adapter_dir)
    pairs = _lora_pairs(adapter_dir)
    base = gguf.GGUFReader(str(base_gguf))
    arch = str(base.fields["general.architecture"].contents())
    if arch not in SUPPORTED_ARCHITECTURES:
        raise ConfigError(
            f"{base_gguf} is a {arch!r} model; LoRA adapters are written for llama.cpp only for "
            f"{', '.join(SUPPORTED_ARCHITECTURES)} (others permute weights on conversion). "
            "Evaluate the fine-tuned model with --backend hf instead"
        )
    shapes = {t.name: tuple(int(n) for n in t.shape) for t in base.tensors}
    blocks = int(base.fields[f"{arch}.block_count"].contents())
    arch_id = {name: key for key, name in gguf.MODEL_ARCH_NAMES.items()}[arch]
    names = gguf.get_tensor_name_map(arch_id, blocks)

    def write(path: Path) -> None:
        writer = gguf.GGUFWriter(str(path), arch)
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
        for module, (a, b) in sorted(pairs.items()):
            target = names.get_name(module + ".weight", try_suffixes=(".weight",))
            if target is None or target not in shapes:
                raise ConfigError(
                    f"the adapter in {adapter_dir} adapts {module!r}, which has no weight in "
                    f"{base_gguf}: it was trained on another model"
                )
            # GGUF lists a weight's dimensions innermost first: (in, out) for an out x in matrix.
            if shapes[target][:2] != (a.shape[1], b.shape[0]) or a.shape[0] != b.shape[1]:
                raise ConfigError(
                    f"the adapter's {module!r} ({b.shape[0]} x {a.shape[1]}) does not fit "
                    f"{target} {shapes[target]} of {base_gguf}: it was trained on another model"
                )
            writer.add_tensor(target + ".lora_a", a)
            writer.add_tensor(target + ".lora_b", b)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()

    with _quiet_gguf_writer():
        atomic_write(out, write)
    return out


@contextlib.contextmanager
def _quiet_gguf_writer() -> Iterator[None]:
    """The gguf package logs every file it writes at INFO (here a temporary name); not news."""
    writer_log = logging.getLogger("gguf.gguf_writer")
    level = writer_log.level
    writer_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        writer_log.setLevel(level)


def _llama_alpha(adapter_dir: Path) -> float:
    """llama.cpp's alpha for peft's adapter_config.json (it scales by alpha / r, like peft)."""
    path = adapter_dir / "adapter_config.json"
    try:
        config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(
            f"{adapter_dir} holds no adapter_config.json: pass the directory a LoRA "
            "fine-tune wrote (its sft/adapter)"
        ) from e
    for key, what in (("use_dora", "DoRA"), ("modules_to_save", "fully trained modules")):
        if config.get(key):
            raise ConfigError(
                f"the adapter in {adapter_dir} uses {what}, which llama.cpp cannot load"
            )
    r, alpha = int(config["r"]), float(config["lora_alpha"])
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        raise ConfigError(f"the adapter in {adapter_dir} has per-module ranks; not supported")
    # rsLoRA scales by alpha / sqrt(r); llama.cpp always by alpha / r.
    return alpha * math.sqrt(r) if config.get("use_rslora") else alpha


def _lora_pairs(adapter_dir: Path) -> dict[str, tuple[Any, Any]]:
    """{transformers module name: (lora_A, lora_B) as float32 arrays} of the adapter."""
    from safetensors.numpy import load_file

    path = adapter_dir / "adapter_model.safetensors"
    if not path.exists():
        raise ConfigError(f"{adapter_dir} holds no adapter_model.safetensors")
    halves: dict[str, dict[str, Any]] = {}
    for key, value in load_file(str(path)).items():
        for suffix in (_A, _B):
            if key.startswith(_PEFT_PREFIX) and key.endswith(suffix):
                module = key[len(_PEFT_PREFIX) : -len(suffix)]
                halves.setdefault(module, {})[suffix] = value.astype("float32")
    pairs = {}
    for module, half in halves.items():
        if len(half) != 2:
            raise ConfigError(f"the adapter in {adapter_dir} has only one matrix for {module!r}")
        pairs[module] = (half[_A], half[_B])
    if not pairs:
        raise ConfigError(f"{path} holds no LoRA matrices")
    return pairs


__all__ = ["SUPPORTED_ARCHITECTURES", "export_gguf_adapter"]
