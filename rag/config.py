"""Settings: the one place that reads the environment (prefix ``READOUTS_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Typed configuration; every field can be overridden by ``READOUTS_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="READOUTS_", extra="ignore")

    data_dir: Path = Field(PROJECT_ROOT / "data", description="Folder of readouts to ingest.")
    store_dir: Path = Field(
        PROJECT_ROOT / "data" / ".store", description="Embedded Chroma store and index cache."
    )
    chroma_host: str | None = Field(None, description="Chroma server host; unset = embedded.")
    chroma_port: int = Field(8000, description="Chroma server port.")
    embedder: str = Field(
        "e5-small",
        description="e5-small | use-m3 | sentence-transformers:<path-or-name>",
    )
    embed_batch_size: int = Field(16, ge=1, le=512)
    chunk_max_chars: int = Field(700, ge=100, le=4000)
    max_file_mb: float = Field(25.0, gt=0, description="Files above this size are refused.")
    top_k: int = Field(5, ge=1, le=50, description="Passages retrieved per question.")
    candidates: int = Field(40, ge=5, le=500, description="Candidates per retriever before fusion.")
    list_max_readouts: int = Field(
        25, ge=1, le=200, description="Readouts a 'which leaders did X call in <month>' answer "
        "may list beyond the top passages."
    )
    ranking_weights: Path | None = Field(
        None, description="A weights file written by bench/fit.py; unset = the packaged "
        "rag/ranking/weights.json.",
    )
    answer_sentences: int = Field(
        2, ge=1, le=10, description="Sentences an extractive answer cites, most probable first.")
    refusal_threshold: float | None = Field(
        None, description="Answerability probability under which a question is refused; "
        "unset = the threshold fitted with the weights (at a stated false-refusal rate).",
    )
    answerer: Literal["extractive", "ollama", "openai", "llamacpp"] = "extractive"
    llm_model: str = Field("", description="Model name (Ollama/OpenAI) or GGUF path (llamacpp).")
    llm_base_url: str | None = Field(None, description="Base URL of an Ollama/OpenAI server.")
    llm_api_key: str = Field("not-needed", description="API key for OpenAI-compatible servers.")
    llm_timeout_s: float = Field(60.0, gt=0)
    upload_max_mb: float = Field(25.0, gt=0, description="Largest file accepted from the UI.")

    @property
    def server_mode(self) -> bool:
        """True when a Chroma server is configured instead of the embedded store."""
        return bool(self.chroma_host)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
