"""Opening a Chroma client, and Chroma's failures as ``StoreError``s that say what to do."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.config import Settings
from rag.errors import StaleStoreError, StoreError, StoreMismatchError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI


def open_client(settings: Settings) -> ClientAPI:
    """An embedded ``PersistentClient`` or, when a host is set, an ``HttpClient``."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.server_mode:
        try:
            client = chromadb.HttpClient(
                host=settings.chroma_host or "localhost", port=settings.chroma_port,
                settings=chroma_settings,
            )
            client.heartbeat()
        except Exception as exc:
            raise StoreError(
                f"Cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port} "
                f"({exc.__class__.__name__}). Start it (chroma run --path DIR --port "
                f"{settings.chroma_port}) or unset READOUTS_CHROMA_HOST to use the local store."
            ) from exc
        return client
    try:
        settings.store_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.store_dir), settings=chroma_settings)
    except Exception as exc:
        raise StoreError(f"Cannot open the local store at {settings.store_dir}: {exc}") from exc


def location(settings: Settings) -> str:
    """Where the store lives, for messages."""
    if settings.server_mode:
        return f"chroma://{settings.chroma_host}:{settings.chroma_port}"
    return str(settings.store_dir)


def translate(exc: Exception, settings: Settings, embedder_key: str) -> StoreError | None:
    """The ``StoreError`` for a failure of Chroma or of the connection to its server; None
    for anything else (a bug: let it through)."""
    import httpx
    from chromadb.errors import ChromaError, InternalError, InvalidArgumentError, NotFoundError

    where = location(settings)
    if isinstance(exc, httpx.TransportError | ConnectionError):
        host, port = settings.chroma_host, settings.chroma_port
        return StoreError(
            f"Lost the connection to the Chroma server at {host}:{port} "
            f"({exc.__class__.__name__}: {exc}). Check that it is running (chroma run "
            f"--path DIR --host {host} --port {port}); Readouts reconnects by itself as "
            "soon as it answers again, nothing needs restarting."
        )
    if isinstance(exc, InvalidArgumentError) and "dimension" in str(exc):
        return StoreMismatchError(
            f"The store at {where} holds vectors of another size than the model "
            f"'{embedder_key}' makes ({exc}). Rebuild it: readouts ingest --rebuild data/"
        )
    if isinstance(exc, NotFoundError):
        return StoreError(
            f"The Readouts collections at {where} were dropped while in use "
            f"(readouts ingest --rebuild in another process?): {exc}. Try again."
        )
    if isinstance(exc, InternalError) and "Error finding id" in str(exc):
        # Chunks that another process committed after this client opened (their metadata
        # is read fresh, their vectors not): the caller reopens at the next catch_up.
        return StaleStoreError(
            f"The store at {where} changed while this process read it (another "
            f"process is writing): {exc}. Ask again."
        )
    if isinstance(exc, ChromaError):
        return StoreError(f"Chroma failed on the store at {where}: {exc}")
    return None
