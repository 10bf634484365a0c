"""Readouts ingestion: files -> readouts -> chunks -> store."""
