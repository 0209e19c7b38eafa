"""Pusa V1 video generation: the Wan2.1-T2V-14B files + Pusa LoRA, a vectorized-timestep sampler.

Importing the package is cheap (no torch): the request and event types are pure Python, and the
heavy parts load when `pusa_engine.engine` is imported.
"""

__version__ = "0.1.0"
