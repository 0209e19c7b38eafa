from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def engine(demo_model):
    """One CPU engine on the demo model, loaded through the same path real files take."""
    from pusa_engine.engine import Engine

    model_dir, lora = demo_model
    eng = Engine(model_dir, lora, plan="cpu")
    eng.load()
    return eng


@pytest.fixture
def tiny():
    """Makes small requests that run in well under a second on the demo model."""
    from pusa_engine.request import GenerationRequest

    def make(**kw):
        base = dict(prompt="a red cat walks", width=64, height=48, frames=17, steps=3, cfg=3.0, seed=7)
        base.update(kw)
        return GenerationRequest(**base)

    return make
