"""The benchmark's outputs: the JSON report, a markdown table and a PNG chart."""

from __future__ import annotations

import json
import re
from pathlib import Path

README_START = "<!-- latest-results:start -->"
README_END = "<!-- latest-results:end -->"


def _f(value, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and abs(value) >= 1000:
        return f"{value:,.0f}{suffix}"
    return f"{value:.{digits}f}{suffix}"


def _x(value) -> str:
    return "–" if value is None else f"{value:.2f}×"


def markdown(report: dict) -> str:
    m, dev = report["machine"], report["device"]
    model = report["model"]
    lines = [
        f"### {report['date']} on `{m['id']}` ({report['mode']} run)",
        "",
        f"- Machine: {m['cpu_model']}, {m['cores']} cores ({', '.join(m['isa']) or 'no AVX-512'}); "
        f"device requested `{dev['requested']}`: torch on {dev['torch']}, onnxruntime on {dev['onnxruntime']}"
        + (f". **{dev['note']}**" if dev.get("note") else "") + ".",
        (f"- Model: `{model['name']}` {model['version']} (max length {model['max_length']}); inputs: "
         f"{report['inputs']['sentences']} dev sentences, mean {report['inputs']['mean_tokens']:.1f} tokens "
         f"(p50 {report['inputs']['percentiles']['p50']:.0f}, p99 {report['inputs']['percentiles']['p99']:.0f})."),
        (f"- {report['plan']['rounds']} interleaved rounds, {report['plan']['threads']} threads; "
         f"fp32 matmul roofline {report['roofline']['matmul_fp32_gflops']:.0f} GFLOP/s "
         f"({report['roofline']['matmul_size']}² torch matmul, same run). Command: `{report['command'].strip()}`."),
        "",
        ("| variant | sentences/s | × baseline | latency p50 / p95 / p99 (ms) | per | GFLOP/s (useful) "
         "| × roofline | peak RSS (MiB) |"),
        "|---|---:|---:|---|---|---:|---:|---:|",
    ]
    vs = report["ratios"]["vs_baseline"]
    for name, v in report["variants"].items():
        lat = v["latency_ms"]
        lines.append(f"| {v['label']} | {_f(v['sentences_per_s'])} | {_x(vs.get(name))} | "
                     f"{_f(lat['p50'])} / {_f(lat['p95'])} / {_f(lat['p99'])} | {v['latency_per']} | "
                     f"{_f(v['useful_gflops_per_s'])} | {_f(v['roofline_fraction'], 2)} | "
                     f"{_f(v.get('peak_rss_mb'), 0)} |")
    sp = next(iter(report["engine_sweep"].values()))["precision"] if report["engine_sweep"] else "int8"
    lines += ["", (f"Raw {sp} engine (`Engine.classify`) on calls of N sentences in random arrival order "
                   "(the reference for the served numbers):"), "",
              "| N | sentences/s | × baseline | call latency p50 / p95 / p99 (ms) |", "|---:|---:|---:|---|"]
    for name, v in report["engine_sweep"].items():
        lat = v["latency_ms"]
        lines.append(f"| {v['call_size']} | {_f(v['sentences_per_s'])} | "
                     f"{_x(report['ratios']['sweep_vs_baseline'].get(name))} | "
                     f"{_f(lat['p50'])} / {_f(lat['p95'])} / {_f(lat['p99'])} |")
    http = report.get("http")
    if http:
        s = http["server"]
        lines += ["", (f"Served {s['precision']} (BentoML on 127.0.0.1, separate process; start {s['startup_s']:.1f} s, "
                       f"peak RSS {s['peak_rss_mb']:.0f} MiB summed over its {len(s['processes'])} processes, "
                       f"largest {s['peak_rss_mb_largest_process']:.0f} MiB):"), "",
                  ("| sentences/request | concurrency | requests (ok) | sentences/s | × baseline | latency p50 / p95 / "
                   f"p99 (ms) | mean batch | raw {sp} engine at that batch, right after (sentences/s) "
                   "| served × raw | served × raw (part-1 sweep) | statuses |"),
                  "|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|"]
        for lv in http["levels"]:
            lat = lv["latency_ms"]
            lines.append(
                f"| {lv['sentences_per_request']} | {lv['concurrency']}"
                f"{' (after overload)' if lv.get('phase') == 'after_overload' else ''} | {lv['requests']} ({lv['ok']}) | "
                f"{_f(lv['sentences_per_s'])} | {_x(lv.get('served_vs_baseline'))} | "
                f"{_f(lat['p50'])} / {_f(lat['p95'])} / {_f(lat['p99'])} | "
                f"{_f(lv['batches']['mean_batch_size'])} | "
                f"{_f((lv.get('raw_engine_after') or {}).get('sentences_per_s'))} | "
                f"{_x(lv.get('served_vs_raw_engine'))} | {_x(lv.get('served_vs_raw_engine_sweep'))} | "
                f"{', '.join(f'{k}: {n}' for k, n in sorted(lv['status_counts'].items()))} |")
    if report["targets"]:
        lines += ["", "| target | value | goal | met |", "|---|---:|---:|---|"]
        for t in report["targets"]:
            met = "–" if t["met"] is None else ("yes" if t["met"] else "**no**")
            lines.append(f"| {t['name']} ({t['where']}) | {_f(t['value'], 2)} | {t['comparison']} "
                         f"{t['threshold']:g} | {met} |")
    exp = report.get("experiments")
    if exp:
        lines += ["", "Engine experiments (interleaved, ratios within this run):", "",
                  "| experiment | variant | sentences/s | × reference | note |", "|---|---|---:|---:|---|"]
        for e_name, e in exp.items():
            if not isinstance(e, dict) or "variants" not in e:
                continue
            for v_name, v in e["variants"].items():
                lines.append(f"| {e_name} | {v_name} | {_f(v.get('sentences_per_s'))} | "
                             f"{_x(v.get('vs_reference'))} | {v.get('note', '')} |")
            if e.get("summary"):
                lines.append(f"| {e_name} | *summary* | | | {e['summary']} |")
    return "\n".join(lines) + "\n"


def chart(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    http = report.get("http") or {"levels": []}
    modes = sorted({lv["sentences_per_request"] for lv in http["levels"]})
    for mode in modes:
        levels = [lv for lv in http["levels"] if lv["sentences_per_request"] == mode
                  and lv.get("phase", "rising") == "rising"]
        left.plot([lv["concurrency"] for lv in levels], [lv["sentences_per_s"] for lv in levels], "o-",
                  label=f"served {http['server']['precision']}, {mode} sentence(s)/request (x = concurrency)")
    sweep = list(report["engine_sweep"].values())
    sp = sweep[0]["precision"] if sweep else "int8"
    left.plot([v["call_size"] for v in sweep], [v["sentences_per_s"] for v in sweep], "s--", color="k",
              label=f"raw {sp} engine (x = sentences per call)")
    for i, (name, v) in enumerate(report["variants"].items()):
        left.axhline(v["sentences_per_s"], color=f"C{i + 2}", linestyle=":", label=v["label"])
    left.set_xscale("log", base=2)
    left.set_yscale("log")
    left.set_xlabel("concurrency (served) / sentences per call (engine)")
    left.set_ylabel("sentences / s")
    left.set_title("Throughput")
    left.legend(fontsize=7, loc="best")
    left.grid(True, which="both", alpha=0.3)

    single = [lv for lv in http["levels"] if lv["sentences_per_request"] == (modes[0] if modes else 1)]
    # x labels mark the after-overload level
    xs = range(len(single))
    width = 0.25
    for k, p in enumerate(("p50", "p95", "p99")):
        right.bar([x + (k - 1) * width for x in xs], [lv["latency_ms"][p] or 0 for lv in single], width, label=p)
    b1 = next((v for v in sweep if v["call_size"] == 1), None)
    if b1:
        right.axhline(b1["latency_ms"]["p50"], color="k", linestyle="--", label="raw engine batch-1 p50")
    right.set_xticks(list(xs), [f"c={lv['concurrency']}" + ("\nafter overload" if lv.get("phase") == "after_overload"
                                                           else "") for lv in single])
    right.set_yscale("log")
    right.set_ylabel("request latency (ms)")
    right.set_title(f"Served latency, {modes[0] if modes else 1} sentence(s) per request")
    right.legend(fontsize=8)
    right.grid(True, axis="y", which="both", alpha=0.3)
    fig.suptitle(f"eventclf benchmark {report['date']} on {report['machine']['id']} ({report['mode']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def update_readme(readme: Path, table: str, files: dict) -> None:
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    block = (f"{README_START}\n{table}\nFiles: " + ", ".join(f"`{Path(p).name}`" for p in files.values())
             + f"\n{README_END}")
    if README_START in text and README_END in text:
        text = re.sub(re.escape(README_START) + ".*?" + re.escape(README_END), lambda _: block, text, flags=re.DOTALL)
    else:
        text = text.rstrip() + "\n\n## Latest results\n\n" + block + "\n"
    readme.write_text(text, encoding="utf-8")


def write_all(report: dict, out: Path, stem: str, readme: Path | None = None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": str(out / f"{stem}.json"), "markdown": str(out / f"{stem}.md"), "chart": str(out / f"{stem}.png")}
    report["files"] = files
    table = markdown(report)
    chart(report, Path(files["chart"]))
    Path(files["markdown"]).write_text(f"# eventclf benchmark\n\n{table}\n![chart]({stem}.png)\n", encoding="utf-8")
    Path(files["json"]).write_text(json.dumps(report, indent=2, ensure_ascii=False, default=float), encoding="utf-8")
    if readme is not None:
        update_readme(readme, table, files)
    return files
