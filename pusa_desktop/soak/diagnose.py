"""Where the window's memory goes during a soak (`PUSA_SOAK_DIAGNOSE=1`): Python objects by type and
tracemalloc's allocation sites, as growth since the previous report, so a leak names its source."""

from __future__ import annotations

import gc
import tracemalloc
from collections import Counter


class MemoryDiagnosis:
    def __init__(self, frames: int = 8) -> None:
        tracemalloc.start(frames)
        self._types = self._count_types()
        self._snapshot = tracemalloc.take_snapshot()

    @staticmethod
    def _count_types() -> Counter[str]:
        gc.collect()
        return Counter(type(o).__qualname__ for o in gc.get_objects())

    def report(self, top: int = 12) -> dict[str, object]:
        types = self._count_types()
        grown = [(name, n) for name, n in (types - self._types).most_common(top)]
        snapshot = tracemalloc.take_snapshot()
        sites = snapshot.compare_to(self._snapshot, "traceback")[:top]
        self._types, self._snapshot = types, snapshot
        traced, _peak = tracemalloc.get_traced_memory()
        return {
            "python_mb": round(traced / 2**20, 1),
            "types_grown": grown,
            "sites": [{"kb": round(s.size_diff / 1024, 1), "count": s.count_diff,
                       "where": [f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}" for f in s.traceback[-4:]]}
                      for s in sites],
        }
