"""Block streaming: the DiT's blocks in (pinned) CPU memory, copied to the GPU one block ahead."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from .weights import replicate

CPU = torch.device("cpu")


class BlockStreamer:
    """Keeps the DiT's blocks in (pinned) CPU memory and streams them to two slots on the GPU.

    The copy of block i+1 runs on its own stream while block i computes; an event per slot stops a
    copy from overwriting weights that a queued block still reads. The small layers stay resident.
    """

    def __init__(self, dit: torch.nn.Module, device: torch.device):
        self.device = device
        self.cuda = device.type == "cuda"
        blocks = list(dit.blocks)
        for name, child in dit.named_children():
            if name != "blocks":
                child.to(device)
        for p in dit.parameters():
            p.requires_grad_(False)
        if self.cuda:
            for block in blocks:
                block.to(CPU)
                for p in block.parameters():
                    p.data = p.data.pin_memory()
        self.blocks_cpu = blocks
        self.slots = [replicate(blocks[0], device) for _ in range(2)]
        self.copy_stream = torch.cuda.Stream(device) if self.cuda else None

    def _load(self, i: int, ready, free) -> None:
        s = i % 2
        src = self.blocks_cpu[i]
        if not self.cuda:
            with torch.no_grad():
                for a, b in zip(src.parameters(), self.slots[s].parameters(), strict=True):
                    b.copy_(a)
            return
        with torch.cuda.stream(self.copy_stream):
            if free[s] is not None:
                self.copy_stream.wait_event(free[s])
            with torch.no_grad():
                for a, b in zip(src.parameters(), self.slots[s].parameters(), strict=True):
                    b.copy_(a, non_blocking=True)
            ready[s] = torch.cuda.Event()
            ready[s].record(self.copy_stream)

    def blocks(self) -> Iterator[torch.nn.Module]:
        """Yields each block's slot once its weights are there (the caller enqueues its compute)."""
        n = len(self.blocks_cpu)
        ready: list = [None, None]
        free: list = [None, None]
        self._load(0, ready, free)
        for i in range(n):
            if i + 1 < n:
                self._load(i + 1, ready, free)
            if self.cuda:
                torch.cuda.current_stream(self.device).wait_event(ready[i % 2])
            yield self.slots[i % 2]
            if self.cuda:
                free[i % 2] = torch.cuda.Event()
                free[i % 2].record(torch.cuda.current_stream(self.device))
