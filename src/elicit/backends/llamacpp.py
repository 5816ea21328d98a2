"""The llama.cpp backend: GGUF models in-process through llama-cpp-python, fast on a CPU.

    >>> from elicit.backends.llamacpp import LlamaCppBackend
    >>> lm = LlamaCppBackend("gemma-3-270m")        # the registered GGUF, no conversion
    >>> lm = LlamaCppBackend("/models/llama-3.1-8b-q4_k_m.gguf", n_threads=8)
    >>> lm.score(["Question: What is 2+2?\\nClaim: 4\\nI think this claim is"])

From the command line: `elicit eval --backend llamacpp --model gemma-3-270m ...`. Needs the
llamacpp extra: pip install 'elicit[llamacpp]'.

The model runs its quantised GGUF weights as they are (the hf backend dequantises them to fp32),
so its label log-odds agree with the hf backend's closely but not exactly; docs/BACKENDS.md
gives the measured agreement and `benchmarks/llamacpp_agreement.py` reproduces it.

Tokenisation goes through `prompting.PromptEncoder` (BOS once, left truncation, label
variants) with llama.cpp's own tokenizer, so this backend scores the same token sequences as
the hf backend (checked identical on thousands of task prompts for gemma-3-270m). The token
layer (`tokens.TokenLM`) renders and tokenises every call; this module scores token contexts.

Prefix reuse. llama.cpp keeps one sequence's keys and values (its KV cache) from call to call.
Before each prompt the cache is cut back to the longest prefix the prompt shares with the
tokens already in it (at a demo boundary, see below), and only the rest is evaluated. Prompts
are evaluated in lexicographic order of their token ids, which is a depth-first walk of their
prefix tree: every distinct prefix is evaluated once. So many-shot scoring (`context_scores`) evaluates the shared demos
once, tree-ordered leave-one-out (`loo_scores(order="tree")`, see
`prompting.tree_loo_orders`) evaluates O(N L log N) tokens instead of O(N^2 L), and "given"
order about half of N^2 L. `tokens_processed` counts the tokens actually evaluated.
(Leave-one-out prompts go in query order, also a depth-first walk, which ends on the prompt
whose context is all other demos in order: ICM's next many-shot proposal over the same demos
then reuses it.) Where the time goes on a CPU, and why OpenMP threads are told to sleep
rather than spin: docs/BENCHMARKS.md, "llama.cpp leave-one-out".

    cache: BOS d2 d3 d1 q0        score q0
           BOS d2 d3 | d0 q1      cut back after d3, evaluate d0 q1: score q1
           BOS | d0 d1 d3 q2      ...

Nothing is approximated: each query is scored on exactly its text prompt's tokens, at their
positions. And the scores are bit-identical to evaluating every prompt from scratch, because
a prompt is always fed in the same decode calls, whether its prefix comes from the cache or
not: llama.cpp's CPU kernels round differently for different splits of a prompt into calls,
and on gemma-3-270m that alone moves log-odds by tenths of a nat. The calls end where a rule
that looks only at the tokens before a position says so (`_calls`: after a demo separator
"\n\n" once a call holds `min_chunk` tokens, or at `n_batch` tokens), so two prompts that share
a prefix split it the same way, and the cache is cut back only to such a boundary. In ICM's
prompts the shared prefixes end at demo boundaries, so nothing is evaluated twice. The tests
check reused against from-scratch scores for equality.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import logging
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from elicit.backends.base import FloatArray, GenerationConfig, LooOrder
from elicit.backends.llamacpp_amx import avoid_amx, without_extra_buffers
from elicit.backends.prompting import DEMO_SEPARATOR, PromptEncoder
from elicit.backends.tokens import TokenLM, Variants, loo_contexts
from elicit.errors import BackendError, ConfigError
from elicit.models import DEFAULT_MODEL, LLAMACPP_EXTRA, MODELS, gguf_file

log = logging.getLogger("elicit")

#: Default cap on the context when the model allows more (as in the hf backend): the KV cache
#: is allocated for the whole context up front, and ICM's prompts rarely need more.
MAX_LENGTH_CAP = 8192
#: Show a progress bar only for calls with at least this many prompts.
_PROGRESS_MIN_PROMPTS = 64


class LlamaCppTokenizer:
    """Adapts llama.cpp's tokenizer to `prompting.Tokenizer`.

    `encode` adds no BOS and parses special-token text ("<start_of_turn>") as the special
    token, as transformers tokenizers do, so chat prompts tokenise the same in both backends.
    `bos_id` is the BOS id only when the model's GGUF says to add it (Gemma, Llama).
    """

    def __init__(self, llm: Any) -> None:
        llama_cpp = _llama_cpp()
        self._llm = llm
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        adds_bos = bool(llama_cpp.llama_vocab_get_add_bos(vocab))
        bos = int(llm.token_bos())
        self._bos: int | None = bos if adds_bos and bos >= 0 else None

    @property
    def bos_id(self) -> int | None:
        return self._bos

    def encode(self, text: str) -> list[int]:
        if not text:
            return []
        return [int(t) for t in self._llm.tokenize(text.encode("utf-8"), False, True)]


class LlamaCppBackend(TokenLM):
    """A GGUF model run in-process by llama.cpp, behind the elicit LM protocol.

    model: a registered name (see `elicit models`; its GGUF file is used directly) or the path
        of a .gguf file.
    device: "auto" (all layers on the GPU when this llama.cpp build has GPU support, else CPU),
        "cpu", or "cuda"/"cuda:N"/"gpu" (needs a llama-cpp-python built with CUDA or Metal).
    dtype: must stay "auto": the GGUF file fixes the weight types.
    batch_size: accepted so that every backend takes the same command-line options; llama.cpp
        evaluates one prompt at a time (in prefix order, see the module docstring), so it has
        no effect here. Tokens per llama.cpp decode call are `n_batch`.
    max_length: context length in tokens; prompts longer than this keep their last tokens.
        Default: the model's training context, capped at MAX_LENGTH_CAP (8192).
    progress: show a progress bar (on a terminal only) for calls with many prompts.
    prefix_cache: reuse the KV cache across prompts sharing a prefix (exact). False evaluates
        every prompt from scratch, for comparison.
    n_threads: CPU threads, for prompts and generation alike (default: the physical cores this
        process may run on, as llama.cpp's own tools choose; llama-cpp-python's default, half
        the logical CPUs, left one of two cores idle while generating, 23% slower).
    n_batch: the most tokens per llama.cpp decode call.
    min_chunk: a decode call ends at a demo separator only once it holds this many tokens, so
        short demos are fed several per call (small calls run slower per token).
    lora: a llama.cpp LoRA adapter (.gguf) to apply to the model's weights, e.g. one written by
        `elicit.training.gguf_adapter.export_gguf_adapter` from a fine-tune of this model.

    Why fixed decode calls: llama.cpp's CPU kernels round differently for different splits of
    a prompt into decode calls; on gemma-3-270m the same prompt's log-odds moved by up to ~0.5
    nats (mean ~0.07) between one call and two calls at a random split, as much as the
    quantisation moves them against the hf backend. (Measured on one 43-token prompt: splits
    after 4, 8, 12, ... tokens changed nothing, most others moved the next-token log-probs by
    0.27-0.83, as if the quantised matrix kernels took a call's tokens in groups of 4 and the
    rest by another path.) Splitting every prompt by the same
    prefix-determined rule (`_calls`) makes scores independent of the order and company of
    prompts: bit-identical with and without prefix reuse.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 1,
        max_length: int | None = None,
        progress: bool = True,
        prefix_cache: bool = True,
        n_threads: int | None = None,
        n_batch: int = 512,
        min_chunk: int = 16,
        lora: str | os.PathLike[str] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if dtype != "auto":
            raise ConfigError(
                f"--dtype {dtype} does not apply to the llamacpp backend: the GGUF file fixes "
                "the weight types. Leave --dtype at auto, or use a GGUF of another quantisation"
            )
        if n_batch < 1:
            raise ConfigError(f"n_batch must be >= 1, got {n_batch}")
        if not 1 <= min_chunk <= n_batch:
            raise ConfigError(
                f"min_chunk must be between 1 and n_batch ({n_batch}), got {min_chunk}"
            )
        if n_threads is not None and n_threads < 1:
            raise ConfigError(f"n_threads must be >= 1, got {n_threads}")
        if max_length is not None and max_length < 8:
            raise ConfigError(f"max_length {max_length} is too small to hold a prompt")
        if importlib.util.find_spec("llama_cpp") is None:
            raise BackendError(
                "the 'llamacpp' backend needs the package 'llama_cpp' (llama-cpp-python), which "
                f"is not installed. Install it with: {LLAMACPP_EXTRA}"
            )
        if lora is not None and not os.path.isfile(lora):
            raise ConfigError(f"LoRA adapter {lora} is not a file: pass a llama.cpp adapter .gguf")
        # A fine-tuned model's numbers must not pass for the base model's.
        self.name = f"llamacpp:{model}" + (f"+lora:{os.path.basename(lora)}" if lora else "")
        self.progress = progress
        self.prefix_cache = prefix_cache
        #: Tokens evaluated by scoring calls (cached prefixes excluded), for benchmarks.
        self.tokens_processed = 0
        self.path = gguf_file(model, progress=progress)
        threads = n_threads or physical_cores()
        self._llm: Any = _load(self.path, device, max_length, threads, n_batch, lora)
        train_ctx = int(_llama_cpp().llama_model_n_ctx_train(self._llm.model))
        if max_length is not None and train_ctx > 0 and max_length > train_ctx:
            self.close()
            raise ConfigError(
                f"max_length {max_length} exceeds the model's {train_ctx} positions; "
                f"pass at most {train_ctx}"
            )
        if max_length is None:
            n_ctx = int(self._llm.n_ctx())
            max_length = min(n_ctx, train_ctx) if train_ctx > 0 else n_ctx
        self.max_length = max_length
        # llama-cpp-python may lower n_batch to the context size.
        self.n_batch = int(self._llm.n_batch)
        self.min_chunk = min(min_chunk, self.n_batch)
        self.tokenizer = LlamaCppTokenizer(self._llm)
        self.encoder = PromptEncoder(self.tokenizer, self.max_length, add_bos=True)
        self._n_vocab = int(self._llm.n_vocab())
        # Tokens that end a demo ("\n\n"): decode calls may end after them (see `_calls`).
        self._separators = np.asarray(self.tokenizer.encode(DEMO_SEPARATOR)[-1:], dtype=np.intc)
        #: How many leading tokens of llama.cpp's cache were evaluated by `_logits_after`, and
        #: under which splitting rule (min_chunk, n_batch): a cache split by another rule (or by
        #: generation) must not be reused.
        self._trusted = 0
        self._trusted_rule = (self.min_chunk, self.n_batch)

    # ------------------------------------------------------------------ scoring

    def token_loo_logprobs(
        self,
        start: list[int],
        shown: Sequence[list[int]],
        asked: Sequence[Sequence[list[int]]],
        order: LooOrder,
        variants: Variants,
    ) -> FloatArray:
        """Every leave-one-out context in full, evaluated in walk order: already a
        depth-first walk of the prompts' prefix tree (see `token_logprobs`), and one that ends
        on the last unit, whose context is every other unit in the given order. A following
        `context_scores` over the same demos (ICM's next proposal) then finds all but the last
        unit in the cache."""
        contexts = loo_contexts(start, shown, asked, order)
        return self.token_logprobs(contexts, variants, in_order=True)

    def token_logprobs(
        self,
        contexts: Sequence[list[int]],
        variants: Variants,
        *,
        in_order: bool = False,
    ) -> FloatArray:
        """(n, k) log-probs of each label word (summing its variants) after each context.

        Contexts are evaluated in lexicographic order of their tokens, a depth-first walk of
        their prefix tree, so each shared prefix stays in the KV cache while it is needed;
        `in_order`: in the given order instead, which the caller knows to be such a walk
        (leave-one-out prompts in query order, in "given" and in "tree" order alike).
        """
        if any(not c for c in contexts):
            raise ConfigError("an empty prompt cannot be scored by a model without a BOS token")
        singles = sorted({s[0] for seqs in variants for s in seqs if len(s) == 1})
        multis = sorted({s for seqs in variants for s in seqs if len(s) > 1})
        order = (
            list(range(len(contexts)))
            if in_order
            else sorted(range(len(contexts)), key=lambda i: contexts[i])
        )
        out = np.zeros((len(contexts), len(variants)))
        for i in self._progress(order, len(order)):
            ctx = contexts[i]
            first = _log_softmax(self._logits_after(ctx))
            logp: dict[tuple[int, ...], float] = {(t,): float(first[t]) for t in singles}
            for seq in multis:
                # The continuation's j-th token is predicted by the logits after ctx + seq[:j];
                # each step evaluates one token on top of the cached ctx + seq[:j-1].
                total = float(first[seq[0]])
                for j in range(1, len(seq)):
                    total += float(_log_softmax(self._logits_after(ctx + list(seq[:j])))[seq[j]])
                logp[seq] = total
            for k, seqs in enumerate(variants):
                # Summing probabilities of alternative spellings: logsumexp of their log-probs.
                out[i, k] = np.logaddexp.reduce([logp[s] for s in seqs])
        return out

    def _logits_after(self, ids: list[int]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """The next-token logits after `ids`, evaluating only what the KV cache lacks.

        `ids` is fed in the decode calls `_calls` gives, and the cache is cut back only to a
        boundary of those calls, so every prompt goes through the same calls whatever the cache
        held before (see the module docstring).
        """
        llm = self._llm
        calls = self._calls(ids)
        shared = self._cached_prefix(ids) if self.prefix_cache else 0
        # At least the last call is evaluated: the logits of its last token are what is read.
        keep = max(b for b in calls[:-1] if b <= shared)
        if keep < llm.n_tokens and not self._cut_cache(keep):
            keep = 0  # this model's cache cannot be cut (e.g. recurrent): start over
        if keep == 0:
            llm.reset()
        else:
            llm.n_tokens = keep
        self._trusted = keep
        self._trusted_rule = (self.min_chunk, self.n_batch)
        for start, end in itertools.pairwise(calls):
            if start >= keep:
                llm.eval(ids[start:end])
                self._trusted = end
        self.tokens_processed += len(ids) - keep
        ptr = _llama_cpp().llama_get_logits_ith(llm.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self._n_vocab,))

    def _calls(self, ids: list[int]) -> list[int]:
        """Where the decode calls feeding `ids` start and end: [0, b1, b2, ..., len(ids)].

        Scanning left to right from the last boundary b, a call ends at position p when it
        holds n_batch tokens, or when token p - 1 is a demo separator and the call holds at
        least min_chunk tokens. Whether p is a boundary depends only on ids[:p], so prompts
        sharing a prefix split it at the same places.
        """
        arr = np.asarray(ids, dtype=np.intc)
        after_separator = np.flatnonzero(np.isin(arr[:-1], self._separators)) + 1
        bounds = [0]
        for p in [*after_separator.tolist(), len(ids)]:
            while p - bounds[-1] > self.n_batch:
                bounds.append(bounds[-1] + self.n_batch)
            if self.min_chunk <= p - bounds[-1] and p < len(ids):
                bounds.append(p)
        return [*bounds, len(ids)]

    def _cached_prefix(self, ids: list[int]) -> int:
        llm = self._llm
        # Only the part of the cache that scoring evaluated counts (not generation's).
        if self._trusted_rule != (self.min_chunk, self.n_batch):
            return 0
        m = min(int(llm.n_tokens), self._trusted, len(ids))
        if m == 0:
            return 0
        differ = np.flatnonzero(llm.input_ids[:m] != np.asarray(ids[:m], dtype=np.intc))
        return int(differ[0]) if differ.size else m

    def _cut_cache(self, keep: int) -> bool:
        """Drop every cached position from `keep` on; False if the cache cannot do that."""
        lc = _llama_cpp()
        memory = lc.llama_get_memory(self._llm.ctx)
        return memory is not None and bool(lc.llama_memory_seq_rm(memory, 0, keep, -1))

    def _progress(self, items: Iterable[int], n: int) -> Iterable[int]:
        show = self.progress and sys.stderr.isatty() and n >= _PROGRESS_MIN_PROMPTS
        return tqdm(items, total=n, desc=f"{self.name} scoring", unit="prompt", disable=not show)

    # ------------------------------------------------------------------ generation

    def generate(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        """Greedy at temperature 0; otherwise temperature and top-p sampling (nothing else:
        no top-k, min-p or repetition penalty) that is reproducible for a given seed and prompt
        list (prompt i samples with seed config.seed * 1_000_003 + i)."""
        texts: list[str] = []
        reserve = min(config.max_new_tokens, self.max_length // 2)
        for i, prompt in enumerate(prompts):
            ids = self.encoder.encode(prompt, reserve=reserve)
            if not ids:
                raise ConfigError("an empty prompt cannot be continued by a model without BOS")
            result = self._llm.create_completion(
                prompt=ids,
                max_tokens=config.max_new_tokens,
                temperature=config.temperature,
                top_p=config.top_p,
                top_k=0,
                min_p=0.0,
                typical_p=1.0,
                repeat_penalty=1.0,
                stop=list(config.stop) or None,
                seed=(config.seed * 1_000_003 + i) % 2**32,
            )
            texts.append(_cut(str(result["choices"][0]["text"]), config.stop))
            # create_completion evaluated its own (unaligned) calls: scoring must not reuse them.
            self._trusted = 0
        return texts

    def chat_prompt(self, message: str) -> str:
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            return super().chat_prompt(message)
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        bos_id, eos_id = int(self._llm.token_bos()), int(self._llm.token_eos())
        bos = self._token_text(bos_id)
        formatter = Jinja2ChatFormatter(
            template=template, eos_token=self._token_text(eos_id), bos_token=bos
        )
        text = str(formatter(messages=[{"role": "user", "content": message}]).prompt)
        # The encoder adds BOS itself; drop a BOS the template wrote as text so it is not doubled.
        if bos and self.tokenizer.bos_id is not None and text.startswith(bos):
            text = text[len(bos) :]
        return text

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        piece = self._llm.detokenize([token], special=True)
        return bytes(piece).decode("utf-8", errors="replace")

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is not None:
            llm.close()
            self._llm = None


#: OpenMP's wait policy for llama.cpp's CPU threads, unless the user set OMP_WAIT_POLICY.
_OMP_WAIT_POLICY = "PASSIVE"


def _llama_cpp() -> Any:
    """Import llama_cpp, first telling its OpenMP threads to sleep rather than spin at barriers.

    llama.cpp's CPU build runs each decode call on an OpenMP team (2 threads on a 2-core
    machine) that meets at a barrier after every operation. By default a waiting thread spins;
    when other processes share the cores, the thread it waits for is often descheduled, and
    each barrier costs a scheduler slice. Measured on this project's 2-core machine with two
    other jobs running (`benchmarks/llamacpp_loo.py --wait-policies`, docs/BENCHMARKS.md): a
    leave-one-out evaluation ran 3-5x faster with PASSIVE. libgomp reads the variable once,
    when it is loaded, i.e. at the first `import llama_cpp`: so it is set here, only if unset
    (OMP_WAIT_POLICY=ACTIVE keeps spinning, e.g. on cores of one's own).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", _OMP_WAIT_POLICY)
    import llama_cpp

    return llama_cpp


def physical_cores(sysfs: Path = Path("/sys/devices/system/cpu")) -> int | None:
    """Physical cores among the CPUs this process may run on (hyperthread siblings count
    once), from Linux's CPU topology; None where that cannot be read (other systems), which
    leaves the choice to llama-cpp-python."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    cores = set()
    for cpu in cpus:
        try:
            cores.add(
                (sysfs / f"cpu{cpu}" / "topology" / "thread_siblings_list").read_text().strip()
            )
        except OSError:
            return None
    return len(cores) or None


def _log_softmax(logits: np.ndarray[Any, np.dtype[np.float32]]) -> FloatArray:
    """log-softmax over the whole vocabulary, in float64."""
    x = logits.astype(np.float64)
    m = x.max()
    return np.asarray(x - (m + np.log(np.exp(x - m).sum())), dtype=np.float64)


def _cut(text: str, stop: Sequence[str]) -> str:
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return text[: min(cuts)] if cuts else text


def _n_gpu_layers(device: str) -> int:
    supports = bool(_llama_cpp().llama_supports_gpu_offload())
    if device == "auto":
        return -1 if supports else 0
    if device == "cpu":
        return 0
    if device in ("gpu", "cuda", "metal") or device.startswith("cuda:"):
        if not supports:
            raise BackendError(
                f"device {device!r} asked for, but this llama-cpp-python was built without GPU "
                "support; use --device cpu, or reinstall it with CUDA: "
                "CMAKE_ARGS='-DGGML_CUDA=on' pip install --force-reinstall llama-cpp-python"
            )
        return -1
    raise ConfigError(f"device {device!r} is not one of auto, cpu, cuda, cuda:N, gpu")


def _load(
    path: Any,
    device: str,
    max_length: int | None,
    n_threads: int | None,
    n_batch: int,
    lora: str | os.PathLike[str] | None = None,
) -> Any:
    llama_cpp = _llama_cpp()
    main_gpu = int(device.split(":", 1)[1]) if device.startswith("cuda:") else 0
    n_gpu_layers = _n_gpu_layers(device)
    buffers = without_extra_buffers(llama_cpp) if avoid_amx(llama_cpp) else contextlib.nullcontext()
    try:
        with _stderr_captured() as captured, buffers:
            llm = llama_cpp.Llama(
                model_path=str(path),
                # llama.cpp rounds the context up to a multiple of 256 but llama-cpp-python sizes
                # its token buffer by the number passed: pass the rounded size, and let the
                # encoder keep prompts within max_length.
                n_ctx=-(-(max_length or MAX_LENGTH_CAP) // 256) * 256,
                n_batch=n_batch,
                n_ubatch=n_batch,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_gpu_layers=n_gpu_layers,
                main_gpu=main_gpu,
                # Keep every key of sliding-window layers (Gemma 3), so the cache can be cut back
                # to any prefix; a window-sized cache could not return below the window.
                swa_full=True,
                lora_path=None if lora is None else str(lora),
                logits_all=False,
                verbose=False,
            )
    except (ValueError, RuntimeError) as e:
        said = " ".join(line.strip() for line in captured[-3:])
        if lora is not None and "lora" in str(e).lower():
            raise _adapter_error(lora, path, f"{e}{'; ' + said if said else ''}") from e
        raise BackendError(
            f"llama.cpp could not load {path} ({e}{'; ' + said if said else ''}). Pass a valid "
            f".gguf file or a registered model ({', '.join(MODELS)}); a GGUF of a newer "
            "architecture may need a newer llama-cpp-python (pip install -U llama-cpp-python)"
        ) from e
    # llama-cpp-python checks the adapter handle against None, but a failed load (another
    # model's adapter) returns a NULL pointer, which is not None: the model would run without it.
    if lora is not None and not getattr(llm, "_lora_adapter", True):
        llm.close()
        said = " ".join(line.strip() for line in captured if "lora" in line.lower())
        raise _adapter_error(
            lora, path, said or "it was written for another model, or is not a LoRA adapter"
        )
    return llm


def _adapter_error(lora: str | os.PathLike[str], path: Any, reason: str) -> BackendError:
    return BackendError(
        f"llama.cpp could not apply the LoRA adapter {lora} to {path} ({reason}). Pass an "
        "adapter written for this model (elicit.training.gguf_adapter.export_gguf_adapter)"
    )


@contextlib.contextmanager
def _stderr_captured() -> Iterator[list[str]]:
    """Collect what native code writes to file descriptor 2 meanwhile, instead of showing it.

    llama.cpp prints notices while loading even when told not to be verbose (e.g. about its
    sliding-window cache); they would interleave with elicit's output. The lines are yielded
    (filled in on exit) so that a failed load can quote llama.cpp's reason.
    """
    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", errors="replace")
            lines.extend(line for line in text.splitlines() if line.strip())
