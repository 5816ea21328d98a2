"""A LoRA adapter written for llama.cpp: refused where it cannot fit, and (slow) the real default
model with an adapter in llama.cpp scoring like the merged fp32 model in transformers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from elicit.backends.base import LabelSet
from elicit.backends.prompting import render_context
from elicit.errors import BackendError, ConfigError
from elicit.models import gguf_file
from elicit.training.config import FitOptions
from elicit.training.export import save_adapter
from elicit.training.gguf_adapter import export_gguf_adapter
from elicit.training.model import load_causal_lm, merged, prepare


def _tiny_gguf(path: Path, arch: str, shapes: dict[str, tuple[int, int]]) -> Path:
    """A GGUF holding only zero weights of the given (out, in) shapes, as a stand-in base."""
    import gguf

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_block_count(1)
    for name, shape in shapes.items():
        writer.add_tensor(name, np.zeros(shape, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _adapter(path: Path, modules: dict[str, tuple[int, int]], r: int = 2, **config: object) -> Path:
    """A peft-layout adapter directory with random matrices for `modules` ({name: (out, in)})."""
    from safetensors.numpy import save_file

    path.mkdir(parents=True)
    rng = np.random.default_rng(0)
    tensors = {}
    for module, (out_dim, in_dim) in modules.items():
        key = f"base_model.model.{module}"
        tensors[f"{key}.lora_A.weight"] = rng.normal(size=(r, in_dim)).astype(np.float32)
        tensors[f"{key}.lora_B.weight"] = rng.normal(size=(out_dim, r)).astype(np.float32)
    save_file(tensors, str(path / "adapter_model.safetensors"))
    settings = {"r": r, "lora_alpha": 2 * r, **config}
    (path / "adapter_config.json").write_text(json.dumps(settings), encoding="utf-8")
    return path


QWEN_LAYER = {"model.layers.0.self_attn.q_proj": (8, 8), "model.layers.0.mlp.down_proj": (8, 16)}
QWEN_BASE = {"blk.0.attn_q.weight": (8, 8), "blk.0.ffn_down.weight": (8, 16)}


def test_writes_llama_cpp_names_shapes_and_alpha(tmp_path: Path) -> None:
    import gguf

    base = _tiny_gguf(tmp_path / "base.gguf", "qwen2", QWEN_BASE)
    adapter = _adapter(tmp_path / "adapter", QWEN_LAYER, r=2)
    out = export_gguf_adapter(adapter, base, tmp_path / "out" / "adapter.gguf")
    reader = gguf.GGUFReader(str(out))
    assert reader.fields["general.type"].contents() == "adapter"
    assert reader.fields["adapter.type"].contents() == "lora"
    assert reader.fields["adapter.lora.alpha"].contents() == pytest.approx(4.0)
    shapes = {t.name: tuple(int(n) for n in t.shape) for t in reader.tensors}
    # innermost dimension first, as llama.cpp checks them against the base weight's (in, out)
    assert shapes == {
        "blk.0.attn_q.weight.lora_a": (8, 2),
        "blk.0.attn_q.weight.lora_b": (2, 8),
        "blk.0.ffn_down.weight.lora_a": (16, 2),
        "blk.0.ffn_down.weight.lora_b": (2, 8),
    }
    # rsLoRA scales by alpha / sqrt(r): llama.cpp's alpha / r needs alpha * sqrt(r)
    rs = _adapter(tmp_path / "rs", QWEN_LAYER, r=4, use_rslora=True)
    out = export_gguf_adapter(rs, base, tmp_path / "rs.gguf")
    alpha = gguf.GGUFReader(str(out)).fields["adapter.lora.alpha"].contents()
    assert alpha == pytest.approx(8.0 * 2.0)


def test_refuses_what_llama_cpp_would_get_wrong(tmp_path: Path) -> None:
    base = _tiny_gguf(tmp_path / "base.gguf", "qwen2", QWEN_BASE)
    wrong = _adapter(tmp_path / "wrong", {"model.layers.0.self_attn.q_proj": (8, 16)})
    with pytest.raises(ConfigError, match="trained on another model"):
        export_gguf_adapter(wrong, base, tmp_path / "a.gguf")
    missing = _adapter(tmp_path / "missing", {"model.layers.0.self_attn.k_proj": (8, 8)})
    with pytest.raises(ConfigError, match="has no weight in"):
        export_gguf_adapter(missing, base, tmp_path / "a.gguf")
    dora = _adapter(tmp_path / "dora", QWEN_LAYER, use_dora=True)
    with pytest.raises(ConfigError, match="DoRA"):
        export_gguf_adapter(dora, base, tmp_path / "a.gguf")
    with pytest.raises(ConfigError, match=r"no adapter_config\.json"):
        export_gguf_adapter(tmp_path, base, tmp_path / "a.gguf")
    llama = _tiny_gguf(tmp_path / "llama.gguf", "llama", QWEN_BASE)
    with pytest.raises(ConfigError, match="permute"):
        export_gguf_adapter(_adapter(tmp_path / "ok", QWEN_LAYER), llama, tmp_path / "a.gguf")
    assert not (tmp_path / "a.gguf").exists()  # nothing half-written
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".a.gguf")]


@pytest.mark.slow
@pytest.mark.llamacpp
def test_llamacpp_with_the_adapter_scores_like_the_merged_model(tmp_path: Path) -> None:
    from elicit.backends.llamacpp import LlamaCppBackend

    claims = [
        "Question: What is 2+2?\nClaim: 4\nI think this claim is",
        "Question: What is 2+2?\nClaim: 5\nI think this claim is",
        "Question: What is the capital of France?\nClaim: London\nI think this claim is",
        "Review: a warm, funny film.\nIs the sentiment positive? I think this claim is",
    ]
    prompts = [*claims, render_context([], claims[0], LabelSet())]

    def log_odds(lm: object) -> np.ndarray:
        lp = lm.label_logprobs(prompts)  # type: ignore[attr-defined]
        return np.asarray(lp[:, 1] - lp[:, 0])

    hf = load_causal_lm("gemma-3-270m")
    base_hf = log_odds(hf)
    module = prepare(hf.model, FitOptions(lora_r=4), "CAUSAL_LM", seed=0)
    # peft starts lora_B at zero (the adapter does nothing): give it weights that move scores.
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=generator) * 0.06)
    save_adapter(module, tmp_path / "adapter")
    hf.model = merged(module)
    hf.model.eval()
    path = export_gguf_adapter(
        tmp_path / "adapter", gguf_file("gemma-3-270m", progress=False), tmp_path / "a.gguf"
    )
    tuned_hf = log_odds(hf)
    base = LlamaCppBackend("gemma-3-270m", progress=False, n_threads=1)
    tuned = LlamaCppBackend("gemma-3-270m", progress=False, n_threads=1, lora=path)
    try:
        assert tuned.name == "llamacpp:gemma-3-270m+lora:a.gguf"
        base_odds, tuned_odds = log_odds(base), log_odds(tuned)
    finally:
        base.close()
        tuned.close()
        hf.close()
    moved = np.abs(tuned_odds - base_odds).mean()
    off = np.abs(tuned_odds - tuned_hf).mean()
    # Measured: moved 2.55, off 0.90, the adapter's shifts correlate 0.95 between backends. Each
    # module alone agrees to within the backends' base difference (up to 0.6, the quantisation);
    # a random adapter this large amplifies it. A wrong name map or alpha would move the scores
    # by other amounts than the merged model's.
    print(f"adapter moved log-odds by {moved:.2f}; llama.cpp vs merged fp32 {off:.2f}")
    assert moved > 0.5
    assert off < moved / 2
    assert np.corrcoef(tuned_odds - base_odds, tuned_hf - base_hf)[0, 1] > 0.8


@pytest.mark.llamacpp
def test_missing_or_foreign_adapter_is_a_clear_error(tmp_path: Path) -> None:
    from elicit.backends.llamacpp import LlamaCppBackend

    with pytest.raises(ConfigError, match="not a file"):
        LlamaCppBackend("gemma-3-270m", progress=False, lora=tmp_path / "none.gguf")
    base = _tiny_gguf(tmp_path / "base.gguf", "qwen2", QWEN_BASE)
    foreign = export_gguf_adapter(_adapter(tmp_path / "x", QWEN_LAYER), base, tmp_path / "x.gguf")
    with pytest.raises(BackendError, match="could not apply the LoRA adapter"):
        LlamaCppBackend("gemma-3-270m", progress=False, lora=foreign)


def test_export_logs_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    base = _tiny_gguf(tmp_path / "base.gguf", "qwen2", QWEN_BASE)
    with caplog.at_level("INFO"):
        export_gguf_adapter(_adapter(tmp_path / "adapter", QWEN_LAYER), base, tmp_path / "a.gguf")
    assert not [r for r in caplog.records if r.name.startswith("gguf")]
