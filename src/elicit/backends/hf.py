"""The Hugging Face transformers backend: any causal LM id, local path or registered name.

    >>> from elicit.backends.hf import HFBackend
    >>> lm = HFBackend("gemma-3-270m")               # converts once, then loads in seconds
    >>> lm.score(["Question: What is 2+2?\\nClaim: 4\\nI think this claim is"])

Tokenisation goes only through `prompting.PromptEncoder` (BOS once, left truncation, label
variants), so every backend scores exactly the same token sequences; the token layer
(`tokens.TokenLM`) renders and tokenises every call, and this module scores token contexts.
Scoring is batched: requests
are sorted by length to limit padding and their results put back in the caller's order. The
model runs in eval mode under `torch.inference_mode`, so the same prompts give the same scores
whatever else shares their batch (checked by the tests to 1e-4).

Only the logits that are needed are materialised: with left padding (the default) the last real
token of every row sits at the end, so `logits_to_keep` asks the model for just the last few
positions instead of (batch, length, vocabulary) floats, which for Gemma's 262k vocabulary is
the difference between megabytes and gigabytes.

Leave-one-out and many-shot scoring (`loo_scores`, `context_scores`) share the key and value
states of common prefixes of demos (`hf_prefix`): tree-ordered leave-one-out feeds O(N L log N)
tokens instead of O(N^2 L), with the same scores as the text prompts. The states are kept
across calls within `prefix_cache_bytes` (`prefix_store`), so the next evaluation of a set that
differs in one label or one example recomputes only the prefixes after the change.
`tokens_processed` counts the tokens every scoring forward pass fed the model.

`loo_engine="packed"` runs tree-ordered leave-one-out as a few packed forward passes with a
tree attention mask (`hf_packed`; FlexAttention on CUDA) instead of the depth-first walk's many
small calls: the same tokens and scores, meant for GPUs, where small calls waste the device.
"""

from __future__ import annotations

import inspect
import logging
import pickle
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from elicit.backends.base import (
    FloatArray,
    GenerationConfig,
    LabelSet,
    LooOrder,
    describe_identity,
)
from elicit.backends.device import resolve_device, resolve_dtype, resolve_max_length
from elicit.backends.hf_packed import PackedEngine, PackedUnsupported
from elicit.backends.hf_prefix import (
    PREFIX_CACHE_BYTES,
    PrefixCache,
    PrefixEngine,
    Request,
    positional_logits_supported,
    read_scores,
)
from elicit.backends.prompting import PromptEncoder
from elicit.backends.tokens import TokenLM, Variants, label_reserve
from elicit.errors import BackendError, ConfigError
from elicit.models import DEFAULT_MODEL, MODELS, resolve_model

log = logging.getLogger("elicit")

#: Show a progress bar only when a call has at least this many batches.
_PROGRESS_MIN_BATCHES = 4


class HFTokenizer:
    """Adapts a transformers tokenizer to `prompting.Tokenizer`.

    `encode` adds no special tokens (the encoder decides about BOS); `bos_id` is the BOS id only
    when the tokenizer adds it by default, i.e. when the model was trained with it (Gemma,
    Llama); GPT-2-style tokenizers that add nothing get None.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tok = tokenizer
        bos = tokenizer.bos_token_id
        with_special = tokenizer("a").input_ids
        plain = tokenizer("a", add_special_tokens=False).input_ids
        adds_bos = bos is not None and len(with_special) > len(plain) and with_special[0] == bos
        self._bos: int | None = int(bos) if adds_bos else None

    @property
    def bos_id(self) -> int | None:
        return self._bos

    def encode(self, text: str) -> list[int]:
        return [int(i) for i in self._tok(text, add_special_tokens=False).input_ids]


@dataclass(frozen=True)
class _LabelPlan:
    """How the label words of a `LabelSet` are read off a context.

    Every prompt becomes one request with an empty continuation, read at the ids in `singles`
    (the single-token spellings of all words), plus one request per multi-token spelling.
    """

    variants: list[list[tuple[int, ...]]]
    singles: list[int]
    multis: list[tuple[int, ...]]
    #: Context tokens left free for the longest continuation (minus its last, predicted token).
    reserve: int

    @classmethod
    def of(cls, encoder: PromptEncoder, label_set: LabelSet) -> _LabelPlan:
        return cls.from_variants(encoder.label_variants(label_set))

    @classmethod
    def from_variants(cls, variants: Variants) -> _LabelPlan:
        return cls(
            variants=variants,
            singles=sorted({s[0] for seqs in variants for s in seqs if len(s) == 1}),
            multis=sorted({s for seqs in variants for s in seqs if len(s) > 1}),
            reserve=label_reserve(variants),
        )

    @property
    def singles_tensor(self) -> torch.Tensor:
        return torch.tensor(self.singles, dtype=torch.long)

    def requests(self, context: tuple[int, ...]) -> list[Request]:
        head = [Request(context, ())] if self.singles else []
        return head + [Request(context, m) for m in self.multis]

    def combine(self, results: Sequence[FloatArray], n_prompts: int) -> FloatArray:
        """(n_prompts, n_words) log-probs from the results of every prompt's `requests`."""
        per_prompt = len(self.multis) + (1 if self.singles else 0)
        out = np.zeros((n_prompts, len(self.variants)))
        for i in range(n_prompts):
            chunk = results[i * per_prompt : (i + 1) * per_prompt]
            logp: dict[tuple[int, ...], float] = {}
            if self.singles:
                logp.update({(t,): float(v) for t, v in zip(self.singles, chunk[0], strict=True)})
                chunk = chunk[1:]
            logp.update({m: float(r[0]) for m, r in zip(self.multis, chunk, strict=True)})
            for k, seqs in enumerate(self.variants):
                # Summing probabilities of alternative spellings: logsumexp of their log-probs.
                out[i, k] = np.logaddexp.reduce([logp[s] for s in seqs])
        return out


class HFBackend(TokenLM):
    """A transformers causal LM behind the elicit LM protocol.

    model: a registered name (see `elicit models`), a local directory or a Hugging Face id.
    device: "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:1", ...
    dtype: "auto" (float32 on CPU, bfloat16 on CUDA), "float32", "bfloat16", "float16".
    batch_size: sequences per forward pass.
    max_length: context length in tokens; prompts longer than this keep their last tokens.
        Default: the model's max_position_embeddings, capped at `device.MAX_LENGTH_CAP` (8192).
    padding_side: "left" (default; lets the model compute logits for the last positions only)
        or "right" (same scores, more memory; for models that misbehave with left padding).
    progress: show a progress bar (on a terminal only) for calls with many batches.
    prefix_cache: compute `loo_scores` and `context_scores` by sharing the keys and values of
        common prefixes (`hf_prefix`; exact, same scores as the text prompts). False scores
        every prompt in full, for comparison.
    prefix_cache_bytes: memory for the key and value states kept across calls, so that
        re-scoring a labelled set after a small change recomputes only what the change touches
        (`hf_prefix.PrefixCache`, default 2 GiB); 0 keeps nothing between calls. Call
        `reset_prefix_store()` after changing the model's weights in place.
    loo_engine: how tree-ordered `loo_scores` runs: "tree" (default), the depth-first walk
        over one KV cache (`hf_prefix`), or "packed", the whole tree in a few forward passes
        with a tree attention mask (`hf_packed`: FlexAttention on CUDA, dense masks on CPU).
        Same scores; "packed" is for GPUs and not yet the default there because it has not
        been measured on one (benchmarks/loo_gpu.py). Models whose masks cannot be replaced
        fall back to "tree" with a warning.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 16,
        max_length: int | None = None,
        padding_side: Literal["left", "right"] = "left",
        progress: bool = True,
        prefix_cache: bool = True,
        prefix_cache_bytes: int = PREFIX_CACHE_BYTES,
        loo_engine: Literal["tree", "packed"] = "tree",
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if prefix_cache_bytes < 0:
            raise ConfigError(
                f"prefix_cache_bytes must be >= 0 (0 keeps nothing), got {prefix_cache_bytes}"
            )
        if loo_engine not in ("tree", "packed"):
            raise ConfigError(f"loo_engine must be 'tree' or 'packed', got {loo_engine!r}")
        if padding_side not in ("left", "right"):
            raise ConfigError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        self.name = model if model in MODELS else f"hf:{model}"
        self.batch_size = batch_size
        self.padding_side = padding_side
        self.progress = progress
        self.prefix_cache = prefix_cache
        self.loo_engine = loo_engine
        self._packed_refused: str | None = None  # why this model cannot use "packed"
        self._stop_criteria: dict[tuple[str, ...], Any] = {}
        #: Key and value states kept across calls (None when `prefix_cache_bytes` is 0).
        self.prefix_store = PrefixCache(prefix_cache_bytes) if prefix_cache_bytes else None
        #: Tokens fed to the model by scoring forward passes (padding excluded), for benchmarks.
        self.tokens_processed = 0
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.model: Any
        self._hf_tokenizer: Any
        self.model, self._hf_tokenizer = _load(model, self.dtype, progress=progress)
        self.model.to(self.device)
        self.model.eval()  # no dropout: scores must not depend on call order or batch
        self.tokenizer = HFTokenizer(self._hf_tokenizer)
        self.max_length = resolve_max_length(self.model.config, max_length)
        self.encoder = PromptEncoder(self.tokenizer, self.max_length, add_bos=True)
        pad = self._hf_tokenizer.pad_token_id
        if pad is None:
            pad = self._hf_tokenizer.eos_token_id
        # Padded positions are masked out, so the pad id only has to be a valid token.
        self.pad_id = int(pad) if pad is not None else 0
        self._keeps_logits = "logits_to_keep" in inspect.signature(self.model.forward).parameters
        self._can_share_prefix = self._keeps_logits and positional_logits_supported()
        # generate() fills every setting we leave unset from the model's generation_config
        # (often top_k=50/64, top_p=0.95, repetition penalties); keep only its end-of-text ids
        # so that GenerationConfig alone decides how elicit decodes.
        eos = getattr(self.model.generation_config, "eos_token_id", None)
        self.eos_ids: int | list[int] | None = eos if eos is not None else _tokenizer_eos(self)
        self._neutral_generation_config()

    @property
    def identity(self) -> str:
        """`LM.identity` with the dtype and device, which change the numbers too."""
        return describe_identity(
            self, dtype=self.dtype, device=self.device, max_length=self.max_length
        )

    @property
    def hf_tokenizer(self) -> Any:
        """The transformers tokenizer itself, for what needs more than `tokenizer` (its
        token ids): saving it beside a trained model, or encoding a word with its special
        tokens. Scoring and training encode through `encoder` only."""
        return self._hf_tokenizer

    def reset_prefix_store(self, nbytes: int = PREFIX_CACHE_BYTES) -> None:
        """Start an empty store of key and value states across calls, holding up to `nbytes`
        (0: keep none). The states are the weights' own, so whoever changes the weights in
        place (fine-tuning, merging adapters) resets the store before scoring again."""
        if nbytes < 0:
            raise ConfigError(f"prefix store bytes must be >= 0 (0 keeps nothing), got {nbytes}")
        self.prefix_store = PrefixCache(nbytes) if nbytes else None

    # ------------------------------------------------------------------ scoring

    def token_logprobs(self, contexts: Sequence[list[int]], variants: Variants) -> FloatArray:
        """Every context scored in full: one request per context and multi-token label
        spelling, run in length-sorted batches (`_run_requests`)."""
        plan = _LabelPlan.from_variants(variants)
        requests = [r for ctx in contexts for r in plan.requests(tuple(ctx))]
        results = self._run_requests(requests, plan.singles_tensor)
        return plan.combine(results, len(contexts))

    def token_loo_logprobs(
        self,
        start: list[int],
        shown: Sequence[list[int]],
        asked: Sequence[Sequence[list[int]]],
        order: LooOrder,
        variants: Variants,
    ) -> FloatArray:
        """Leave-one-out on the prefix engines: each unit's shown tokens one segment of the
        tree (or given) walk, its asked queries the requests at its leaf, so U units cost the
        tree's O(U L log U) tokens (`hf_prefix`; `hf_packed` with loo_engine="packed")."""
        plan = _LabelPlan.from_variants(variants)
        requests = [[r for q in qs for r in plan.requests(tuple(q))] for qs in asked]
        engine = self._engine()
        singles = plan.singles_tensor
        if order == "tree":
            tree = self._packed(engine) or engine
            results = tree.tree_loo(start, shown, requests, singles)
        else:
            results = engine.given_loo(start, shown, requests, singles)
        return plan.combine([r for rs in results for r in rs], sum(len(qs) for qs in asked))

    def token_context_logprobs(
        self,
        start: list[int],
        demos: Sequence[list[int]],
        queries: Sequence[list[int]],
        variants: Variants,
    ) -> FloatArray:
        """Many-shot on the prefix engine: the shared demos computed once (`hf_prefix`)."""
        plan = _LabelPlan.from_variants(variants)
        requests = [r for q in queries for r in plan.requests(tuple(q))]
        results = self._engine().context([start, *demos], requests, plan.singles_tensor)
        return plan.combine(results, len(queries))

    def can_assemble(self) -> bool:
        """Prefix sharing is on and this transformers can pick logits per row."""
        return self.prefix_cache and self._can_share_prefix

    def _engine(self) -> PrefixEngine:
        return PrefixEngine(
            self.model,
            device=self.device,
            pad_id=self.pad_id,
            batch_size=self.batch_size,
            count=self._count,
            store=self.prefix_store,
        )

    def _packed(self, engine: PrefixEngine) -> PackedEngine | None:
        """The packed engine on top of `engine` when asked for and the model allows it."""
        if self.loo_engine != "packed" or self._packed_refused is not None:
            return None
        try:
            return PackedEngine(engine)
        except PackedUnsupported as e:
            self._packed_refused = str(e)
            log.warning("loo_engine='packed' is not available: %s; using 'tree'", e)
            return None

    def _count(self, n: int) -> None:
        self.tokens_processed += n

    def _run_requests(self, requests: list[Request], singles: torch.Tensor) -> list[FloatArray]:
        """For each request: log P of every id in `singles` after the context (empty
        continuation), or [sum of the continuation's token log-probs]. In request order."""
        # Longest first: the first batch is the largest, so memory errors show up at once.
        order = sorted(range(len(requests)), key=lambda i: -len(requests[i].inputs))
        results: list[FloatArray] = [np.zeros(0)] * len(requests)
        for batch in self._batches(order, "scoring"):
            scored = self._score_batch([requests[i] for i in batch], singles)
            for i, r in zip(batch, scored, strict=True):
                results[i] = r
        return results

    def _score_batch(self, batch: list[Request], singles: torch.Tensor) -> list[FloatArray]:
        ids, mask = self._pad([r.inputs for r in batch])
        # Position ids count real tokens only, so a left-padded row sees the same positions
        # (0, 1, 2, ...) as it would alone; pad positions get 0 and are masked anyway.
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        lengths = mask.sum(-1)
        n_keep = max(r.n_scored for r in batch)
        self._count(int(lengths.sum()))
        kwargs: dict[str, Any] = {}
        if self._keeps_logits and self.padding_side == "left":
            kwargs["logits_to_keep"] = n_keep
        with torch.inference_mode():
            logits = self.model(
                input_ids=ids, attention_mask=mask, position_ids=positions, **kwargs
            ).logits
        # Logit slicing, the classic off-by-one: the logits at position t predict token t+1.
        #
        #   inputs   [bos]  The  claim  is | True   (context | continuation, last token not fed)
        #   position   0     1     2    3  |  4
        #   logits    ->The ->claim ->is ->True  ->(next)
        #                              ^^^^^^^^^^^
        #   the continuation's j-th token is scored by logits[len(context) - 1 + j], so an
        #   empty continuation (single-token labels) reads logits[len(context) - 1], the last
        #   real position. With left padding the row ends at the last column; `logits_to_keep`
        #   keeps the last n_keep columns, and column c of the kept block is position
        #   T - n_keep + c of the padded row.
        width = ids.shape[1]
        offset = width - logits.shape[1]  # how many leading columns were not computed
        out: list[FloatArray] = []
        for row, r in enumerate(batch):
            n_in = int(lengths[row])
            start = width - n_in if self.padding_side == "left" else 0  # first real column
            first = start + len(r.context) - 1 - offset  # logits column scoring token 1
            out.append(read_scores(logits[row], first, r, singles))
        return out

    def _pad(self, seqs: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            sl = slice(width - len(s), width) if self.padding_side == "left" else slice(0, len(s))
            ids[i, sl] = torch.tensor(s, dtype=torch.long)
            mask[i, sl] = 1
        return ids.to(self.device), mask.to(self.device)

    def _batches(self, order: list[int], what: str) -> Iterator[list[int]]:
        chunks = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        show = self.progress and sys.stderr.isatty() and len(chunks) >= _PROGRESS_MIN_BATCHES
        yield from tqdm(chunks, desc=f"{self.name} {what}", unit="batch", disable=not show)

    # ------------------------------------------------------------------ generation

    def generate(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        """Greedy at temperature 0; otherwise sampling that is reproducible for a given seed,
        prompt list and batch size (each batch seeds its own RNG from config.seed)."""
        if len(prompts) == 0:
            return []
        import transformers

        make_config: Any = transformers.GenerationConfig  # untyped in transformers

        reserve = min(config.max_new_tokens, self.max_length // 2)
        encoded = [self.encoder.encode(p, reserve=reserve) for p in prompts]
        sample = config.temperature > 0
        hf_config: Any = make_config(
            max_new_tokens=config.max_new_tokens,
            do_sample=sample,
            temperature=config.temperature if sample else None,
            top_p=config.top_p if sample else None,
            top_k=0,  # only temperature and top_p shape the distribution
            pad_token_id=self.pad_id,
            eos_token_id=self.eos_ids,
        )
        order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
        texts: list[str] = [""] * len(prompts)
        for b, batch in enumerate(self._batches(order, "generating")):
            texts_b = self._generate_batch([encoded[i] for i in batch], hf_config, config, b)
            for i, t in zip(batch, texts_b, strict=True):
                texts[i] = _cut(t, config.stop)
        return texts

    def _generate_batch(
        self, seqs: list[list[int]], hf_config: Any, config: GenerationConfig, index: int
    ) -> list[str]:
        # generate() always left-pads: new tokens are appended after the last column.
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, width - len(s) :] = torch.tensor(s, dtype=torch.long)
            mask[i, width - len(s) :] = 1
        # transformers samples from the global torch RNG; fork_rng restores it afterwards, so
        # the library never changes the caller's random state yet stays seeded.
        devices = [self.device] if self.device.type == "cuda" else []
        stopping = self._stopping(config.stop)
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(config.seed * 1_000_003 + index)
            out = self.model.generate(
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                generation_config=hf_config,
                **({"stopping_criteria": stopping} if stopping is not None else {}),
            )
        new = out[:, width:].cpu().tolist()
        return [str(self._hf_tokenizer.decode(t, skip_special_tokens=True)) for t in new]

    def _stopping(self, stop: tuple[str, ...]) -> Any:
        """Stop-string criteria, built once per set of stop strings.

        transformers' own `stop_strings` rebuilds a table over the whole vocabulary (262k tokens
        for Gemma) whenever its cache misses, which measured 7-20 s per `generate` call here;
        the criteria object holds that table, so reusing it makes the cost once per stop set.
        """
        if not stop:
            return None
        hit = self._stop_criteria.get(stop)
        if hit is None:
            from transformers import StoppingCriteriaList, StopStringCriteria

            hit = StoppingCriteriaList([StopStringCriteria(self._hf_tokenizer, list(stop))])
            self._stop_criteria[stop] = hit
        return hit

    def _neutral_generation_config(self) -> None:
        import transformers

        make_config: Any = transformers.GenerationConfig  # untyped in transformers
        old = self.model.generation_config
        self.model.generation_config = make_config(
            bos_token_id=getattr(old, "bos_token_id", None),
            eos_token_id=self.eos_ids,
            pad_token_id=self.pad_id,
        )

    def chat_prompt(self, message: str) -> str:
        template = getattr(self._hf_tokenizer, "chat_template", None)
        if not template:
            return super().chat_prompt(message)
        text = self._hf_tokenizer.apply_chat_template(
            [{"role": "user", "content": message}], tokenize=False, add_generation_prompt=True
        )
        # The encoder adds BOS itself; drop a BOS the template wrote as text so it is not doubled.
        bos = self._hf_tokenizer.bos_token
        if bos and self.tokenizer.bos_id is not None and text.startswith(bos):
            text = text[len(bos) :]
        return str(text)

    def close(self) -> None:
        if getattr(self, "model", None) is not None and self.device.type == "cuda":
            self.model.to("cpu")
            torch.cuda.empty_cache()


def _tokenizer_eos(lm: HFBackend) -> int | None:
    eos = lm.hf_tokenizer.eos_token_id
    return int(eos) if eos is not None else None


def _cut(text: str, stop: Sequence[str]) -> str:
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return text[: min(cuts)] if cuts else text


def _load(model: str, dtype: torch.dtype, *, progress: bool) -> tuple[Any, Any]:
    from safetensors import SafetensorError  # a truncated .safetensors file raises it
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path = resolve_model(model, progress=progress)
    hub_id = model not in MODELS and not Path(model).exists()
    local_only = hub_id and not _hub_reachable()
    if local_only and not _in_hub_cache(model):
        # transformers would retry the unreachable hub for about a minute before saying so.
        raise BackendError(
            f"model {model!r} is neither a registered model ({', '.join(MODELS)}) nor a local "
            "directory, nor in the Hugging Face cache, and the hub cannot be reached from here. "
            "Pass a registered name or a local path, or download the model where the hub is "
            "reachable."
        )
    # transformers' own "Loading weights" bar interleaves with our output for a sub-second
    # step; loading from the safetensors cache is fast enough not to need one.
    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        hf_model = AutoModelForCausalLM.from_pretrained(
            path, dtype=dtype, local_files_only=local_only
        )
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local_only)
    except pickle.UnpicklingError as e:  # torch.load(weights_only=True) refused the file
        raise BackendError(
            f"model {model!r}: a weights file in {path} is a pickle holding more than tensors, "
            "so torch refused to load it and nothing in it ran. Use a copy saved as "
            "safetensors (save_pretrained's default), or re-save it yourself if you trust "
            f"where it came from. ({str(e).splitlines()[0]})"
        ) from e
    except (OSError, ValueError, RuntimeError, SafetensorError) as e:
        if hub_id:
            raise BackendError(
                f"model {model!r} is neither a registered model ({', '.join(MODELS)}) nor a "
                "local directory, and loading it as a Hugging Face hub id failed (no hub is "
                f"reachable offline). Pass a registered name or a local path. ({e})"
            ) from e
        if model in MODELS:  # elicit's own converted copy: damaged (a truncated file)
            raise BackendError(
                f"the cached copy of model {model!r} at {path} cannot be loaded ({e}); it is "
                f"damaged (e.g. a file cut short). Delete it (rm -r '{path}') and rerun: elicit "
                "converts it again."
            ) from e
        raise BackendError(f"could not load model {model!r} from {path}: {e}") from e
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
    return hf_model, tokenizer


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers a TCP connection within `timeout` seconds
    (False at once when HF_HUB_OFFLINE is set)."""
    import os
    import socket
    import urllib.parse

    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    endpoint = urllib.parse.urlsplit(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def _in_hub_cache(model: str) -> bool:
    """Whether hub id `model` has a config.json in the local Hugging Face cache."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        found = try_to_load_from_cache(model, "config.json")
    except Exception:  # an id that is not a valid repo name: not cached either
        return False
    return isinstance(found, str)
