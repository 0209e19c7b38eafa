"""The cluster's workers as engines of the window's EngineHost.

When the settings name a cluster, a background thread connects (Ray's token authentication) and looks for
Pusa workers, again every REFRESH_MS; each one found becomes an engine (a `ClusterClient`), and one no
longer found is taken away once it runs nothing. The status bar hears what happened in one line: connected
with N workers, or why not (Ray not installed, a bad address, no token, nothing answering). Ray is imported
on that thread only, never torch.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from pusa_engine.cluster.connect import RAY_MISSING, ClusterAddress, ClusterError, ray_available
from pusa_engine.errors import PusaError

from .app_settings import AppSettings
from .engine_host import EngineHost

log = logging.getLogger(__name__)
REFRESH_MS = 10_000


class ClusterLanes(QObject):
    message = Signal(str)
    workers_changed = Signal()
    _found = Signal(int, object)  # generation, [(WorkerInfo, handle)] or a problem (str)

    def __init__(self, host: EngineHost, settings: AppSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._host, self._settings = host, settings
        self._followed: tuple[str, str] = ("", "")  # (address, token) in use
        self._generation = 0
        self._clients: dict[str, object] = {}  # worker name -> its ClusterClient
        self._looking = False
        self._last_said = ""
        self.problem = ""  # why the cluster cannot be used now ("" when it can, or none is set)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._found.connect(self._apply)

    @property
    def active(self) -> bool:
        """A cluster address is set."""
        return bool(self._followed[0])

    @property
    def worker_names(self) -> list[str]:
        return list(self._clients)

    def follow_settings(self) -> None:
        """Connect to the cluster the settings name (or stop using one); cheap when nothing changed."""
        wanted = (self._settings.cluster_address, self._settings.cluster_token)
        if wanted == self._followed:
            return
        self._followed = wanted
        self._generation += 1
        self._drop_workers(set(), force=True)
        self._timer.stop()
        self.problem = ""
        address = wanted[0]
        if not address:
            return
        if not ray_available():
            self._fail(RAY_MISSING)
            return
        try:
            ClusterAddress.parse(address)
        except ClusterError as error:
            self._fail(str(error))
            return
        self._say(f"Cluster: connecting to {address}…")
        self._timer.start()
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Look for workers now (on a background thread)."""
        if self._looking or not self.active:
            return
        self._looking = True
        generation, (address, token) = self._generation, self._followed
        threading.Thread(target=self._look, args=(generation, address, token), name="pusa-cluster",
                         daemon=True).start()

    def _look(self, generation: int, address: str, token: str) -> None:
        from pusa_engine.cluster.client import ClusterConnection

        try:
            found: object = ClusterConnection(address, token=token or None).workers()
        except PusaError as error:
            found = "; ".join(error.problems)
        except Exception as error:  # noqa: BLE001 - whatever Ray raises becomes one line in the status bar
            log.exception("looking for cluster workers")
            found = f"cannot use the cluster at {address}: {error}"
        self._found.emit(generation, found)

    @Slot(int, object)
    def _apply(self, generation: int, found: object) -> None:
        self._looking = False
        if generation != self._generation:
            self.refresh()  # the settings changed meanwhile
            return
        if isinstance(found, str):
            self._drop_workers(set())
            self._fail(found)
            return
        from pusa_engine.cluster.client import ClusterClient

        self.problem = ""
        before = set(self._clients)
        for info, handle in found:
            if info.name not in self._clients:
                client = ClusterClient(info, handle)
                self._clients[info.name] = client
                self._host.add_engine(info.name, client)
        self._drop_workers({info.name for info, _ in found})
        if set(self._clients) != before or not self._last_said.startswith("Cluster " + self._followed[0]):
            names = ", ".join(self._clients) or "none yet (start one with `python -m pusa_engine serve`)"
            self._say(f"Cluster {self._followed[0]}: {len(self._clients)} worker(s): {names}")
            self.workers_changed.emit()

    def _drop_workers(self, keep: set[str], force: bool = False) -> None:
        """Take away the workers not in `keep`; one still running a job stays until the next look, unless
        `force` (another cluster was chosen: its job ends cancelled)."""
        free = set(self._host.free_engines())
        for name in [n for n in self._clients if n not in keep]:
            if force or name in free:
                self._host.remove_engine(name)
                del self._clients[name]

    def _fail(self, problem: str) -> None:
        self.problem = problem
        self._say("Cluster: " + problem)

    def _say(self, text: str) -> None:
        if text != self._last_said:
            self._last_said = text
            self.message.emit(text)
