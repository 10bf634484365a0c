"""Record e5-small's vector of every chunk of the shared corpus, keyed by the exact text
embedded, for tests/test_golden.py.

The golden test rebuilds a store of the whole corpus on a fresh machine. Embedding its 5,000
chunks takes about 15 minutes on two cores, most of CI's budget, and gives the same vectors
every time: the test replays these (tests/recorded.py), checks a sample against the live model
and embeds live any chunk whose text is not recorded, so a change to chunking or headers makes
it slower, never wrong. Run this after such a change, or when the corpus grows.

The vectors come from the bench store (bench/out/store-e5-small, brought up to date first):
each readout is chunked again as ingest chunks it, and a chunk's stored vector is recorded only
when the store's chunk has the same id and offsets. float16: the golden ranks are unchanged
(see tests/test_golden.py), at half the size.

Usage: python bench/record_vectors.py
"""

from __future__ import annotations

import sys

import numpy as np
from common import ROOT, bench_settings, ensure_ingested

from ingest.chunking import chunk_readout
from rag.assistant import open_store
from tests.recorded import E5_CORPUS as RECORDING
from tests.recorded import text_key


def main() -> None:
    settings = bench_settings("e5-small")
    ensure_ingested(settings)
    store = open_store(settings)
    keys: list[bytes] = []
    vectors: list[np.ndarray] = []
    skipped = 0
    for info in store.list_readouts():
        readout = store.get_readout(info.doc_id)
        if readout is None:
            continue
        chunks = chunk_readout(readout, settings.chunk_max_chars)
        stored = {p.chunk_id: (p, v) for p, v in
                  store.passage_vectors([(c.chunk_id, readout.language) for c in chunks])}
        for chunk in chunks:
            found = stored.get(chunk.chunk_id)
            if found is None or (found[0].start, found[0].end) != (chunk.start, chunk.end):
                skipped += 1
                continue
            keys.append(text_key(chunk.embed_text))
            vectors.append(found[1])
    RECORDING.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(RECORDING, keys=np.frombuffer(b"".join(keys), dtype=np.uint8)
                        .reshape(-1, 16), vectors=np.stack(vectors).astype(np.float16))
    print(f"{len(keys)} chunk vectors recorded in {RECORDING.relative_to(ROOT)} "
          f"({RECORDING.stat().st_size / 2**20:.1f} MB); {skipped} chunks not in the store "
          "as chunked now (they will be embedded live)", file=sys.stderr)


if __name__ == "__main__":
    main()
