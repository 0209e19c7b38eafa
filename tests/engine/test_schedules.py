"""Schedules as objects beside the loop: the shifted schedule is one of them, the loop's results are those of
today, and the expert rule picks Wan2.2's expert from each step's base timestep."""

from __future__ import annotations

import torch

from pusa_engine.sampler import Conditioning, sample
from pusa_engine.schedules import ExpertSwitch, ShiftedSchedule, SigmaList, base_timestep, schedule_sigmas


def test_shifted_schedule_is_the_spec_formula():
    sig = ShiftedSchedule(10, 5.0).sigmas()
    assert torch.equal(sig, schedule_sigmas(10, 5.0))
    s = torch.linspace(1, 0, 11)[:-1]
    torch.testing.assert_close(sig[:-1], 5 * s / (1 + 4 * s))
    assert sig[-1] == 0 and len(ShiftedSchedule(4).sigmas()) == 5


def test_sigma_list_appends_the_final_zero():
    assert torch.equal(SigmaList((1.0, 0.5)).sigmas(), torch.tensor([1.0, 0.5, 0.0]))
    assert torch.equal(SigmaList((1.0, 0.5, 0.0)).sigmas(), torch.tensor([1.0, 0.5, 0.0]))


def test_high_noise_expert_while_base_timestep_is_at_least_the_boundary():
    """Spec section 11: at 10 steps, steps 0-4 (t 1000 .. 882.4) high, 5-9 (833.3 .. 357.1) low."""
    switch = ExpertSwitch(0.875)
    assert switch.experts(ShiftedSchedule(10)) == [0] * 5 + [1] * 5
    assert switch.experts(ShiftedSchedule(4)) == [0, 0, 1, 1]  # 1000, 937.5, 833.3, 625
    for steps in range(1, 31):
        sig = ShiftedSchedule(steps).sigmas()
        experts = switch.experts(ShiftedSchedule(steps))
        first_low = next((i for i in range(steps) if base_timestep(sig[i]) < 875.0), steps)
        assert experts == [0] * first_low + [1] * (steps - first_low)
    assert ExpertSwitch(0.95).experts(ShiftedSchedule(10)) == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]


class _Recorder:
    """A denoiser standing in for a DiT: a fixed linear velocity, and the base sigmas it was handed."""

    def __init__(self):
        self.sigmas = []

    def __call__(self, x, t, sigma=None):
        self.sigmas.append(sigma)
        return (0.1 * x.float() + t.float().view(1, 1, -1, 1, 1) / 1000).float()


def test_the_loop_takes_a_schedule_and_gives_the_denoiser_each_base_sigma():
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(1, 16, 5, 4, 4, generator=g)
    conds = [Conditioning(0, torch.randn(1, 16, 4, 4, generator=g), 0.2)]
    rec_a, rec_b = _Recorder(), _Recorder()
    a = sample(rec_a, noise, conds, ShiftedSchedule(6, 5.0), torch.float32)
    b = sample(rec_b, noise, conds, 6, 5.0, torch.float32)  # the older spelling: steps, shift, dtype
    assert torch.equal(a.latents, b.latents) and torch.equal(a.timesteps, b.timesteps)
    assert rec_a.sigmas == [float(s) for s in schedule_sigmas(6, 5.0)[:-1]]
    c = sample(_Recorder(), noise, conds, SigmaList(tuple(schedule_sigmas(6, 5.0).tolist())), torch.float32)
    assert torch.equal(a.latents, c.latents)
