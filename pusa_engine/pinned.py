"""Page-locked CPU memory for many tensors without the host allocator's rounding.

PyTorch's pinned-memory allocator rounds every allocation up to a power of two (a 13824x5120 bf16 weight,
142 MB, takes 256 MB), which would nearly double the RAM of an expert kept for swapping or of LoRA base
copies in pinned memory. An arena takes chunks whose size is already a power of two and hands out views.
"""

from __future__ import annotations

import torch

CHUNK_BYTES = 1 << 30
_ALIGN = 512


class PinnedArena:
    """Views into 1 GiB page-locked chunks (pageable memory when there is no CUDA: nothing to pin for)."""

    def __init__(self, chunk_bytes: int = CHUNK_BYTES):
        self.chunk_bytes = chunk_bytes
        self._chunks: list[list] = []  # [buffer, bytes used]
        self.pinned = torch.cuda.is_available()

    def empty(self, shape: tuple[int, ...] | torch.Size, dtype: torch.dtype) -> torch.Tensor:
        n = 1
        for d in shape:
            n *= d
        nbytes = n * torch.empty((), dtype=dtype).element_size()
        if not self.pinned:
            return torch.empty(shape, dtype=dtype)
        if nbytes > self.chunk_bytes:
            return torch.empty(shape, dtype=dtype, pin_memory=True)
        for chunk in self._chunks:  # first fit: a later small tensor fills an earlier chunk's tail
            if chunk[1] + nbytes <= self.chunk_bytes:
                break
        else:
            chunk = [torch.empty(self.chunk_bytes, dtype=torch.uint8, pin_memory=True), 0]
            self._chunks.append(chunk)
        start = chunk[1]
        chunk[1] = start + -(-nbytes // _ALIGN) * _ALIGN
        return chunk[0][start:start + nbytes].view(dtype).view(shape)

    def copy(self, t: torch.Tensor) -> torch.Tensor:
        """A page-locked copy of `t` (from any device)."""
        out = self.empty(t.shape, t.dtype)
        out.copy_(t.detach())
        return out

    @property
    def reserved_bytes(self) -> int:
        return len(self._chunks) * self.chunk_bytes
