"""The benchmark's table (markdown), from the numbers a Bench collected. Mixed into Bench."""

from __future__ import annotations

import statistics

from .common import fmt


class Report:
    def table(self) -> str:
        R = self.results
        env = R["env"]
        lines = [f"Pusa engine benchmark, {env['date']}: {env['device']}, torch {env['torch']}, "
                 f"cuDNN {env['cudnn']}, diffsynth {env['diffsynth']}, random {self.config.num_layers}-layer "
                 f"dim-{self.config.dim} weights ({'tiny' if self.args.tiny else 'Wan2.1-T2V-14B shapes'}), "
                 f"{str(self.dtype).replace('torch.', '')}",
                 "", "| | ours | diffsynth 2.1.12 | speedup |", "|---|---:|---:|---:|"]

        def line(what, a, b, unit="s", speed=True):
            sp = f"{b / a:.2f}x" if speed and a and b else ""
            lines.append(f"| {what} | {fmt(a)} {unit if a is not None else ''} | "
                         f"{fmt(b)} {unit if b is not None else ''} | {sp} |")

        for s in self.sizes():
            n = s.name
            f = R.get("forward", {}).get(n, {})
            best = R.get("best_mode", {}).get(n)
            job = R.get("our_job", {}).get(n, {})
            dj = R.get("diffsynth_job", {}).get(n, {})
            dec = R.get("decode", {}).get(n, {})
            lines.append(f"| **{n}: {s.width}x{s.height}, {s.frames} frames, {s.steps} steps, CFG {self.args.cfg}** "
                         f"| | | |")
            if f:
                line("DiT forward" + (f" ({best})" if best else ""), f.get(best), f.get("diffsynth"))
                if "compiled" in f and "eager" in f:
                    line("DiT forward, ours eager", f.get("eager"), f.get("diffsynth"))
            steps = job.get("steps") or []
            if steps:
                ds = R.get("diffsynth_step", {}).get(n)
                line("denoising step (2 passes + CFG)", statistics.median(steps), ds)
            if job:
                line("text encoding (2 prompts)", job["phases"].get("text"), None, speed=False)
                line("keyframe encode", job["phases"].get("keyframe"), None, speed=False)
            if dec:
                line("VAE decode (ours chunked bf16 / diffsynth tiled)", dec.get("ours"), dec.get("diffsynth_tiled"))
            if job or dj:
                line("whole job", job.get("total"), dj.get("total"))
                pj = job.get("peak_gib", {}).get(str(self.device))
                pd = dj.get("peak_gib", {}).get(str(self.device))
                line("peak GPU memory (ours: text encoder released)", pj, pd, unit="GiB", speed=False)
            fl = R.get("flops", {}).get(n)
            if fl and f.get(best):
                tot = fl["linear"] + fl["attention"]
                mm = R.get("matmul_tflops") or 800.0
                floor = tot / (mm * 1e12)
                lines.append(f"| forward FLOPs {tot / 1e15:.2f} PFLOP ({fl['linear'] / 1e15:.2f} linear + "
                             f"{fl['attention'] / 1e15:.2f} attention); floor at {mm:.0f} TFLOP/s {floor:.2f} s | "
                             f"{tot / f[best] / 1e12:.0f} TFLOP/s = {floor / f[best]:.0%} of floor | "
                             + (f"{tot / f['diffsynth'] / 1e12:.0f} TFLOP/s = {floor / f['diffsynth']:.0%}"
                                if f.get("diffsynth") else "") + " | |")
            tp = R.get("preview_s", {}).get(n)
            if tp is not None and steps:
                share = tp / statistics.median(steps)
                lines.append(f"| step preview | {tp * 1e3:.1f} ms = {share:.2%} of a step | | |")
        mv = R.get("text_encoder_move_s")
        if mv:
            lines.append(f"| text encoder 11.4 GB CPU->GPU / release (when the plan does not keep it; not in the "
                         f"job) | {mv['to_gpu']:.2f} / {mv['release']:.3f} s | | |")
        if R.get("plans"):
            lines.append("")
            lines.append("two-device plans (one step, velocity vs the one-device plan):")
            for k, v in R["plans"].items():
                lines.append(f"  {k}: relative difference {v['rel_err']:.2e}, {v['s']:.3f} s per step")
        if R["errors"]:
            lines.append("")
            lines += [f"error: {e}" for e in R["errors"]]
        return "\n".join(lines)

