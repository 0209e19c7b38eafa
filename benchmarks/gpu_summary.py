"""The tables of a `gpu_run` (markdown), from its results.json: the user path, attention, one forward in
every mode, the FP8 GEMMs, the offload plan's RSS, one GPU against two."""

from __future__ import annotations


def _f(v, unit: str = "", nd: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}{unit}"
    return f"{v}{unit}"


def _gib(d: dict | None) -> dict:
    return {k: round(v, 1) for k, v in (d or {}).items()}


def _user_path(name: str, r: dict) -> list[str]:
    run = r.get("run") or {}
    jobs = run.get("jobs") or []
    lines = [f"### {name}: {run.get('plan', '?')}", "", "| what | measured |", "|---|---|",
             f"| model folder written (random bf16, official layout) | {_f(r.get('write_s'), ' s')} "
             f"{r.get('write', {})} |",
             f"| load (files in page cache) | {_f(run.get('load_s'), ' s')} |"]
    for i, j in enumerate(jobs, 1):
        steps = j.get("steps_s") or []
        med = sorted(steps)[len(steps) // 2] if steps else None
        lines += [f"| job {i}, alpha {j.get('alpha')}: first step preview after the call | "
                  f"{_f(j.get('first_preview_s'), ' s')} (optimizing announced at "
                  f"{_f(j.get('optimizing_at_s'), ' s')}; text encoding starts at "
                  f"{_f(j.get('before_text_s'), ' s', 2)}) |",
                  f"| job {i}: MP4 on disk after the call | {_f(j.get('to_mp4_s'), ' s')} (median step "
                  f"{_f(med, ' s', 2)}, decode from {_f(j.get('decode_at_s'), ' s')}) |"]
    lines += [f"| alpha change alone (1.4, then 1.0) | {[round(s, 2) for s in run.get('alpha_change_s', [])]} s |",
              f"| process peak RSS (sampled / kernel high-water) | {_f(run.get('rss_peak_gib'), ' GiB')} / "
              f"{_f(run.get('rss_hwm_gib'), ' GiB')} (after load {_f(run.get('rss_after_load_gib'), ' GiB')}) |",
              f"| GPU peak, load / jobs | {_gib(run.get('gpu_peak_load_gib'))} / "
              f"{_gib(run.get('gpu_peak_jobs_gib'))} GiB |",
              ""]
    return lines


def _attention(r: dict) -> list[str]:
    fa4 = "importable" if r.get("fa4_available") else f"not importable: {r.get('fa4_reason')}"
    lines = ["### Self-attention at Wan shapes (1 x 40 heads x L x 128, bf16)", "", f"FlashAttention 4: {fa4}",
             "", "| L | kernel | ms | TFLOP/s | rel. error vs fp32 rows |", "|---|---|---:|---:|---:|"]
    for name, e in (r.get("shapes") or {}).items():
        for k in ("cudnn", "flash2", "fa4"):
            v = e.get(k)
            if isinstance(v, dict) and "ms" in v:
                lines.append(f"| {name} ({e['tokens']}) | {k} | {v['ms']:.1f} | {v['tflops']:.0f} | "
                             f"{v.get('rel_err_vs_fp32_rows', 0):.1e} |")
            elif isinstance(v, dict):
                lines.append(f"| {name} | {k} | {v.get('error')} | | |")
        if "fa4_vs_cudnn" in e:
            lines.append(f"| {name} | FA4 vs cuDNN | {e['fa4_vs_cudnn']} | | |")
    return lines + [""]


def _probe(r: dict) -> list[str]:
    lines = ["### One 480p forward (full-size DiT, random weights)", "", "| mode | first call | forward | vs bf16 |",
             "|---|---:|---:|---:|"]
    for mode, v in (r.get("forward") or {}).items():
        lines.append(f"| {mode} | {v['first_call_s']:.2f} s | {v['forward_s']:.3f} s | "
                     f"{_f(v.get('rel_diff_vs_bf16'), '', 4)} |")
    if "compile_s" in r:
        lines.append(f"| compile time with the cache the user path left (first call - eager forward) | "
                     f"{r['compile_s']:.1f} s | | |")
    for name, g in (r.get("gemm") or {}).items():
        lines.append(f"| GEMM {name} | bf16 {g['bf16_ms']:.2f} ms | FP8 {g['fp8_mm_ms']:.2f} ms "
                     f"({g['speedup_mm']:.2f}x; {g['speedup_with_quantize']:.2f}x with quantization) | "
                     f"{g['rel_err']:.1e} |")
    return lines + [""]


def _two_gpu(r: dict) -> list[str]:
    lines = ["### One GPU against two (eager, random weights)", "", "| run | denoise | peak GiB |", "|---|---:|---|"]
    for k, v in r.items():
        if isinstance(v, dict) and "s" in v:
            lines.append(f"| {k} | {v['s']:.2f} s | {v.get('peak_gib_without_t5')} |")
    return lines + [""]


def summary(results: dict) -> str:
    env = results.get("env", {})
    lines = [f"## gpu_run {results.get('kind')}: {env.get('gpus')}, torch {env.get('torch')}, triton "
             f"{env.get('triton')}, diffsynth {env.get('diffsynth')}", ""]
    for name, st in (results.get("stages") or {}).items():
        if "skipped" in st:
            lines += [f"### {name}: skipped ({st['skipped']})", ""]
            continue
        r = st.get("result")
        if r is None:
            lines += [f"### {name}: no result (exit {st.get('rc')}, {st.get('seconds')} s); see log.txt", ""]
            continue
        try:
            if name in ("user_path", "offload"):
                lines += _user_path(name, r)
            elif name == "attention":
                lines += _attention(r)
            elif name == "speed_probe":
                lines += _probe(r)
            elif name == "two_gpu":
                lines += _two_gpu(r)
        except (KeyError, TypeError, ValueError) as e:
            lines += [f"### {name}: result not tabulated ({e}); see results.json", ""]
    return "\n".join(lines)
