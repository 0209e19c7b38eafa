"""Where the text encoder lives: loaded onto its GPU when the plan keeps it there (no CPU copy), else on
the CPU and lent to the GPU once per job for all its new prompts."""

from __future__ import annotations

import torch

from pusa_engine import plans as P

CPU = torch.device("cpu")
GPU = torch.device("cuda", 0)


def test_text_home_follows_the_plans_choice():
    assert P.make_plan("cpu", [CPU]).text_home == CPU
    plan = P.make_plan("gpu", [GPU], torch.bfloat16)
    assert plan.text_home == CPU  # released after encoding: its home is the CPU
    plan.keep_text_encoder = True
    assert plan.text_home == GPU  # kept: loaded straight onto its GPU
    two = P.make_plan("cfg-parallel", [GPU, torch.device("cuda", 1)], torch.bfloat16)
    two.keep_text_encoder = True
    assert two.text_home == torch.device("cuda", 1)


def test_an_encoder_already_on_its_device_is_used_as_it_is():
    m = torch.nn.Linear(2, 2, device="meta")
    plan = P.make_plan("gpu", [GPU], torch.bfloat16)
    with plan.text_encoder_on(m, torch.device("meta")):
        assert m.weight.device.type == "meta"
    assert plan.model_state() == {}  # no loan: nothing to copy or give back


def test_nested_uses_lend_once_and_give_back_once(monkeypatch):
    """One job's prompts are encoded inside one loan: the inner encodes neither lend again nor release."""
    lends, backs = [], []
    lend, give_back = P.WeightsOnLoan.lend, P.WeightsOnLoan.give_back

    def lend_here(loan, device):  # the CPU stands in for the GPU
        if loan.device != device:
            lends.append(device)
        lend(loan, CPU)
        loan.device = device

    def back(loan):
        if loan.device is not None:
            backs.append(1)
        give_back(loan)

    monkeypatch.setattr(P.WeightsOnLoan, "lend", lend_here)
    monkeypatch.setattr(P.WeightsOnLoan, "give_back", back)
    m = torch.nn.Linear(2, 2)
    plan = P.make_plan("cpu", [CPU])
    with plan.text_encoder_on(m, GPU):
        for _ in range(2):
            with plan.text_encoder_on(m, GPU):
                assert plan.model_state()["_loan"].device == GPU
        assert plan.model_state()["_loan"].device == GPU and not backs
    assert lends == [GPU] and backs == [1]
