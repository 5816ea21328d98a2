"""Model backends behind the one LM protocol, loaded by name without importing heavy deps.

    >>> from elicit.backends import load_lm
    >>> lm = load_lm("gemma-3-270m")           # backend "auto" -> transformers ("hf")
    >>> lm.score(["...I think this claim is"])

Backends live in a name -> "module:Class" registry and are imported only when used, so
`import elicit.backends` never imports torch (the CLI starts fast and `elicit tasks` works
without the hf extra).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from elicit.backends.base import LM, TRUE_FALSE, Demo, FloatArray, GenerationConfig, LabelSet
from elicit.errors import BackendError, ConfigError
from elicit.models import DEFAULT_MODEL, HF_EXTRA, LLAMACPP_EXTRA

__all__ = [
    "BACKENDS",
    "LM",
    "TRUE_FALSE",
    "Demo",
    "FloatArray",
    "GenerationConfig",
    "LabelSet",
    "backend_class",
    "backend_status",
    "load_lm",
    "resolve_backend",
]

BACKENDS: dict[str, str] = {
    "hf": "elicit.backends.hf:HFBackend",
    "llamacpp": "elicit.backends.llamacpp:LlamaCppBackend",
    "fake": "elicit.backends.fake:ScriptedLM",
    "openai": "elicit.backends.openai:OpenAIBackend",
}
#: Python packages each backend needs, and the command that installs them.
_EXTRAS: dict[str, tuple[tuple[str, ...], str]] = {
    "hf": (("torch", "transformers", "safetensors", "accelerate"), HF_EXTRA),
    "llamacpp": (("llama_cpp",), LLAMACPP_EXTRA),
}


def resolve_backend(model: str, backend: str = "auto") -> str:
    """The backend that `load_lm(model, backend)` constructs: `backend` itself, or for "auto"
    openai for openai:<base_url>/<model> (an OpenAI-compatible server) and hf for the rest.
    Callers that need a particular backend (fine-tuning needs hf) ask here, not by rule."""
    if backend != "auto":
        return backend
    return "openai" if model.startswith("openai:") else "hf"


def backend_status(backend: str) -> str | None:
    """Why `backend` cannot run on this machine (missing packages and the command that installs
    them), or None when it can. Checks that the packages are installed without importing them."""
    if backend not in BACKENDS:
        raise ConfigError(
            f"unknown backend {backend!r}; choose one of: auto, {', '.join(BACKENDS)}"
        )
    needed, hint = _EXTRAS.get(backend, ((), ""))
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return f"needs {', '.join(missing)} (install: {hint})"


def backend_class(backend: str) -> type[LM]:
    """The LM class registered as `backend`, imported on first use."""
    if backend not in BACKENDS:
        raise ConfigError(
            f"unknown backend {backend!r}; choose one of: auto, {', '.join(BACKENDS)}"
        )
    module_name, _, class_name = BACKENDS[backend].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        needed, hint = _EXTRAS.get(backend, ((), HF_EXTRA))
        if e.name is not None and e.name.split(".")[0] in needed:
            raise BackendError(
                f"the {backend!r} backend needs the package {e.name!r}, which is not "
                f"installed. Install it with: {hint}"
            ) from e
        raise
    cls = getattr(module, class_name)
    if not (isinstance(cls, type) and issubclass(cls, LM)):
        raise TypeError(f"{BACKENDS[backend]} is not an LM subclass")
    return cls


def load_lm(model: str = DEFAULT_MODEL, backend: str = "auto", **options: Any) -> LM:
    """Construct the LM for `model` (a registered name, local path or HF id).

    options go to the backend's constructor, e.g. device="cuda", batch_size=32.
    """
    name = resolve_backend(model, backend)
    cls: Any = backend_class(name)  # constructors differ per backend
    if name == "fake":
        # The scripted stand-in takes its rules (score=, generate=) but has no device, batch
        # or length settings, which the CLI's shared option groups pass to every backend.
        rules = {k: v for k, v in options.items() if k in ("score", "generate")}
        # Named fake:<model>, not <model>: metrics, results rows, `elicit runs` and reports take
        # the model's name from the LM, and a stand-in's numbers must not pass for the model's.
        name = model if model.startswith("fake") else f"fake:{model}"
        fake: LM = cls(name=name, **rules)
        return fake
    lm: LM = cls(model, **options)
    return lm
