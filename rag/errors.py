"""Specific exceptions, translated once into a message by the CLI and the UI."""


class ReadoutsError(Exception):
    """Base class: every error a user can act on."""


class ConfigError(ReadoutsError):
    """A setting is missing or invalid."""


class EmbedderError(ReadoutsError):
    """The embedding model cannot be loaded or used."""


class StoreError(ReadoutsError):
    """The vector store cannot be opened, reached or trusted."""


class StaleStoreError(StoreError):
    """This process read an embedded store whose vectors it had loaded before another
    process's latest writes; the next call catches up (``ReadoutStore.catch_up``)."""


class StoreMismatchError(StoreError):
    """The store was written by another embedder or another format version."""


class LoadError(ReadoutsError):
    """A file or record cannot be turned into a readout."""


class NotFoundError(ReadoutsError):
    """A readout id is not in the store."""
