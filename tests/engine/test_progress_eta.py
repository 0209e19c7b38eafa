"""The VAE decode is a phase of its own, with progress per chunk, and every ETA covers it."""

from __future__ import annotations

import pytest

from pusa_engine.events import Phase, PhaseProgress, StepProgress


def _decoding(events) -> list[PhaseProgress]:
    return [e for e in events if isinstance(e, PhaseProgress) and e.phase is Phase.DECODING]


def test_decode_reports_each_latent_frame_with_time_left(engine, tiny, tmp_path):
    events = []
    engine.generate(tiny(steps=2), tmp_path / "d.mp4", on_event=events.append)
    decoding = _decoding(events)
    assert [(e.done, e.total) for e in decoding] == [(d, 5) for d in range(6)]
    assert all(e.eta_seconds is not None and e.eta_seconds >= 0 for e in decoding) and decoding[-1].eta_seconds == 0


def test_first_estimate_is_one_step_then_the_measured_rate(demo_model, tiny):
    from pusa_engine.engine import Engine

    model, lora = demo_model
    fresh = Engine(model, lora, plan="cpu")
    fresh.load()
    before = fresh.estimate_decode_seconds(tiny(), seconds_per_step=123.0)
    fresh.run(tiny(steps=1))
    assert (before, fresh.estimate_decode_seconds(tiny(), seconds_per_step=123.0) < 123.0) == (123.0, True)


def test_measured_rate_scales_with_the_size(engine, tiny):
    engine.run(tiny(steps=1))
    small = engine.estimate_decode_seconds(tiny(), 1.0)
    bigger = engine.estimate_decode_seconds(tiny(width=128, height=96, frames=33), 1.0)
    assert bigger == pytest.approx(small * 4 * 9 / 5)  # 4x the pixels, 9 latent frames instead of 5


def test_step_eta_includes_the_decode(engine, tiny):
    events = []
    engine.run(tiny(steps=3), on_event=events.append)
    steps = [e for e in events if isinstance(e, StepProgress)]
    decode_estimate = _decoding(events)[0].eta_seconds
    assert steps[-1].eta_seconds == decode_estimate and steps[0].eta_seconds > decode_estimate


def test_the_first_decode_that_compiles_says_so_and_stays_out_of_the_rate(demo_model, tiny):
    """Where the decoder is sped up (vae_speed.py; forced here on the CPU), the first decode at a size compiles
    its norms: its progress says "optimizing", and its time does not become the next job's decode estimate."""
    from pusa_engine.engine import Engine
    from pusa_engine.vae_speed import DECODER_OPTIMIZING, speed_up_decoder

    model, lora = demo_model
    fresh = Engine(model, lora, plan="cpu")
    fresh.load()
    assert speed_up_decoder(fresh.vae, True)
    first = []
    fresh.run(tiny(steps=1), on_event=first.append)
    assert [e.message for e in _decoding(first)][:2] == [DECODER_OPTIMIZING] * 2
    assert {e.message for e in _decoding(first)[2:]} == {""}
    assert fresh.estimate_decode_seconds(tiny(), seconds_per_step=123.0) == 123.0  # no rate from that decode
    second = []
    fresh.run(tiny(steps=1), on_event=second.append)
    assert {e.message for e in _decoding(second)} == {""}
    assert fresh.estimate_decode_seconds(tiny(), seconds_per_step=123.0) < 123.0
