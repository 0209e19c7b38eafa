"""Per-model state a device plan keeps (the text encoder's loan, the DiT's block streamer or copies).

The state lives on the plan, which the engine owns, and never keeps its model alive: it is dropped when
the model is garbage collected (so closing an engine frees it), when another model takes its place, or
when the plan is released.
"""

from __future__ import annotations

import weakref
from typing import Generic, TypeVar

T = TypeVar("T")


class ModelState(Generic[T]):
    """One value bound to one model, held by a weak reference to the model."""

    def __init__(self) -> None:
        self._model: weakref.ref | None = None
        self._value: T | None = None
        self._finalizer: weakref.finalize | None = None

    @property
    def value(self) -> T | None:
        """The value, whichever model it belongs to (None when nothing is held)."""
        return self._value

    def get(self, model: object) -> T | None:
        """The value kept for `model`, or None."""
        if self._model is not None and self._model() is model:
            return self._value
        return None

    def set(self, model: object, value: T) -> T:
        """Keep `value` for `model`, dropping what was kept for any model before."""
        self.clear()
        self._model = weakref.ref(model)
        self._value = value
        # the finalizer holds this object weakly, so a dropped plan frees its state at once
        self._finalizer = weakref.finalize(model, _clear, weakref.ref(self))
        self._finalizer.atexit = False
        return value

    def clear(self) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
        self._model = self._value = self._finalizer = None


def _clear(state_ref: weakref.ref) -> None:
    state = state_ref()
    if state is not None:
        state.clear()


class ModelStates(Generic[T]):
    """Values bound to several models at once (Wan2.2's two experts), each dropped with its own model.

    Holds at most `limit` models: setting one more drops the oldest.
    """

    def __init__(self, limit: int = 2) -> None:
        self.limit = limit
        self._states: list[ModelState[T]] = []

    @property
    def value(self) -> T | None:
        """The newest value still held (None when nothing is held)."""
        for s in reversed(self._states):
            if s.value is not None:
                return s.value
        return None

    def get(self, model: object) -> T | None:
        for s in self._states:
            value = s.get(model)
            if value is not None:
                return value
        return None

    def set(self, model: object, value: T) -> T:
        self._states = [s for s in self._states if s.value is not None and s.get(model) is None]
        while len(self._states) >= self.limit:
            self._states.pop(0).clear()
        state: ModelState[T] = ModelState()
        self._states.append(state)
        return state.set(model, value)

    def clear(self) -> None:
        for s in self._states:
            s.clear()
        self._states = []
