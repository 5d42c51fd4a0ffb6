"""What a long-lived Accord process does once it has started, before it serves anyone."""

import gc

# The youngest generation is collected after this many allocations not yet freed (Python's
# default: 700). A request that builds a table of 5,000 people allocates tens of thousands of
# objects, and each young collection that promotes them brings the next full one nearer; with
# 50,000, the analytics' widest requests run without a full collection (docs/benchmarks.md,
# "The cold path without the collector's pauses"). Memory held by cyclic garbage between two
# collections: a few megabytes.
YOUNG_COLLECTION_THRESHOLD = 50_000


def settle_startup_heap() -> None:
    """Move what start-up loaded (Django, the apps, their modules, settings and caches) out of
    the garbage collector's generations: it lives as long as the process, and a full
    collection falling inside a request would otherwise walk all of it (up to 157 ms in a fresh
    process, about 200 ms in the analytics benchmark's). Later collections walk only what was
    allocated since, and less often (``YOUNG_COLLECTION_THRESHOLD``)."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, oldest)
