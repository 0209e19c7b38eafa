"""How a queue shares its jobs among several engines (the local one, cluster workers): pure rules, so the
window's queue and the batch command follow the same ones.

- A job goes to a free engine, in the order the engines were listed (the local engine first).
- A job whose engine was lost ("interrupted": it never finished) runs once more, on another engine when
  there is one; lost a second time, it fails. A job that ended in any other way is never run again here.
"""

from __future__ import annotations

RUNS_WHEN_LOST = 2  # a job runs at most this many times when its engines are lost under it


def choose_engine(free: list[str], avoid: set[str], engines: list[str]) -> str | None:
    """The free engine a job should start on: not one it was lost on, unless it has no other engine."""
    for name in free:
        if name not in avoid:
            return name
    if free and all(name in avoid for name in engines):
        return free[0]
    return None


class LostJobs:
    """Which engines each job was lost on."""

    def __init__(self) -> None:
        self._lost: dict[str, list[str]] = {}

    def lost(self, job_id: str, engine: str) -> bool:
        """Record it; True when the job may run again."""
        engines = self._lost.setdefault(job_id, [])
        engines.append(engine)
        return len(engines) < RUNS_WHEN_LOST

    def avoid(self, job_id: str) -> set[str]:
        return set(self._lost.get(job_id, []))

    def engines(self, job_id: str) -> list[str]:
        return list(self._lost.get(job_id, []))

    def forget(self, job_id: str) -> None:
        self._lost.pop(job_id, None)


def lost_too_often(engines: list[str]) -> str:
    """Why a job lost again is not run again."""
    return (f"the job was interrupted {len(engines)} times (lost with {', '.join(engines)}), so it is not run "
            "again automatically: check the workers, then run it again")
