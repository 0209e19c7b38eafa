"""Weights on several devices: copies of a module, their re-sync, blocks divided between devices, and a
module whose weights live on the CPU and visit a GPU while it is used."""

from __future__ import annotations

import copy
import weakref

import torch


def replicate(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """A copy of `module` with every parameter and buffer on `device`, copied tensor by tensor."""
    memo = {}
    for p in module.parameters():
        memo[id(p)] = torch.nn.Parameter(p.detach().to(device, copy=True), requires_grad=False)
    for b in module.buffers():
        memo[id(b)] = b.to(device, copy=True)
    return copy.deepcopy(module, memo)


@torch.no_grad()
def sync_weights(src: torch.nn.Module, dst: torch.nn.Module) -> None:
    for (_, a), (_, b) in zip(src.named_parameters(), dst.named_parameters(), strict=True):
        b.copy_(a, non_blocking=True)


def split_blocks(dit: torch.nn.Module, devices: list[torch.device]) -> list[int]:
    """Move the DiT's blocks to the devices in contiguous runs (the rest stays on the first)."""
    n = len(dit.blocks)
    bounds = [round(i * n / len(devices)) for i in range(len(devices) + 1)]
    for d, dev in enumerate(devices):
        for block in dit.blocks[bounds[d]:bounds[d + 1]]:
            block.to(dev)
    return bounds


class Replicas:
    """Copies of one DiT on the other devices of a plan, keyed by device; `version` names the weights
    they hold (the LoRA alpha): when it changes they are copied again before the next step. A `copies`
    dict passed in is used (and filled) as it is, so several plans can share one set (the benchmark)."""

    def __init__(self, version: object = None, copies: dict[str, torch.nn.Module] | None = None):
        self.version = version
        self.copies: dict[str, torch.nn.Module] = copies if copies is not None else {}

    def for_devices(self, dit: torch.nn.Module, devices: list[torch.device],
                    version: object = None) -> list[torch.nn.Module]:
        """One DiT per device (the loaded one first), copying it where there is none yet."""
        if version != self.version:
            for r in self.copies.values():
                sync_weights(dit, r)
            self.version = version
        out = [dit]
        for d in devices[1:]:
            if d == devices[0]:
                out.append(dit)  # the same device named twice: share the weights (tests, one-GPU checks)
                continue
            if str(d) not in self.copies:
                self.copies[str(d)] = replicate(dit, d)
            out.append(self.copies[str(d)])
        return out


class WeightsOnLoan:
    """A module whose weights live on the CPU and visit a GPU: `lend` copies them there, `give_back`
    points the module at its CPU tensors again (nothing is copied back; the weights never change).

    It holds the module's parts weakly: a plan keeping a loan never keeps the module alive.
    """

    def __init__(self, module: torch.nn.Module):
        tensors = [(m, name, is_param) for m in module.modules()
                   for name, is_param in [(n, True) for n in m._parameters] + [(n, False) for n in m._buffers]
                   if (m._parameters if is_param else m._buffers)[name] is not None]
        self.home = [_get(m, name, p).data.to("cpu") for m, name, p in tensors]
        for (m, name, p), t in zip(tensors, self.home, strict=True):
            _set(m, name, p, t)
        self.tensors = [(weakref.ref(m), name, p) for m, name, p in tensors]
        self.device: torch.device | None = None

    def _point_at(self, place) -> None:
        for (ref, name, p), t in zip(self.tensors, self.home, strict=True):
            m = ref()
            if m is not None:
                _set(m, name, p, place(t))

    def lend(self, device: torch.device) -> None:
        if self.device == device:
            return
        self._point_at(lambda t: t.to(device, non_blocking=True))
        self.device = device

    def give_back(self) -> None:
        if self.device is None:
            return
        self._point_at(lambda t: t)
        self.device = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _get(m: torch.nn.Module, name: str, is_param: bool) -> torch.Tensor:
    return m._parameters[name] if is_param else m._buffers[name]


def _set(m: torch.nn.Module, name: str, is_param: bool, t: torch.Tensor) -> None:
    if is_param:
        m._parameters[name].data = t
    else:
        m._buffers[name] = t
