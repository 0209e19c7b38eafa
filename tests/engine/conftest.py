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


@pytest.fixture(scope="session")
def demo22(tmp_path_factory):
    """The Wan2.2-A14B demo (two experts, their Pusa LoRAs and LightX2V LoRAs) in the official layout."""
    from pusa_engine.demo_model import write_demo_files

    return write_demo_files(tmp_path_factory.mktemp("demo22"), "wan2.2")


@pytest.fixture(scope="session")
def engine22(demo22):
    """One CPU engine on the Wan2.2 demo, both experts resident."""
    from pusa_engine.engine import Engine

    eng = Engine(demo22.model_dir, demo22.loras["high"], plan="cpu", lora_low=demo22.loras["low"])
    eng.load()
    return eng


@pytest.fixture(scope="session")
def lightx2v21(demo_model):
    """The Wan2.1 demo's LightX2V LoRA (kohya keys with alpha entries), written beside its Pusa LoRA."""
    return demo_model[1].parent / "lightx2v_demo.safetensors"
