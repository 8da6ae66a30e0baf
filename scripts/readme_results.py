"""Copy the measured results (``docs/results/*.md``, written by the commands named on their first lines) into the
README between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->`` markers, headings demoted to fit.

    python scripts/readme_results.py          # rewrite README.md
    python scripts/readme_results.py --check  # exit 1 if the README is out of date (tests/test_readme.py)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "results"


def long_run_markdown() -> str:
    """A short table from ``long_run.json`` (its plot is ``long_run.png``)."""
    d = json.loads((RESULTS / "long_run.json").read_text())
    s = d["summary"]
    rows = [
        ("segments (frames)", f"{s['segments']} ({d['config'].get('frames', s['segments'] * 16 + 1)})"),
        ("NaN", "none" if s["nan_free"] else "found"),
        ("memory tokens after loop 1 / at half / at the end", f"{s['tokens_after_first_loop']} / {s['tokens_at_half']} "
                                                              f"/ {s['tokens_end']} ({s['bytes_end'] / 1e3:.0f} kB)"),
        ("seconds per segment, first 10 / last 10 (ratio)", f"{s['seconds_first10_mean']:.2f} / "
                                                            f"{s['seconds_last10_mean']:.2f} "
                                                            f"({s['time_ratio_last10_first10']:.2f})"),
        ("revisit PSNR vs ground truth, first / last window", f"{s['revisit_psnr_first']:.2f} / "
                                                              f"{s['revisit_psnr_last']:.2f} dB (slope "
                                                              f"{s['revisit_psnr_slope_db_per_100_segments']:+.2f} dB "
                                                              "per 100 segments)"),
        ("back at the photo vs the photo, first / last loop", f"{s['photo_psnr_first']:.2f} / "
                                                              f"{s['photo_psnr_last']:.2f} dB"),
    ]
    lines = [f"`{d['command']}`", "", "| | |", "| --- | --- |"] + [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(lines + ["", "![long run: tokens, seconds per segment, revisit PSNR](docs/results/long_run.png)"])


def blocks() -> dict[str, str]:
    out = {}
    for name in ("closed_loop", "e2e"):
        text = (RESULTS / f"{name}.md").read_text().strip()
        text = re.sub(r"^(#+) ", lambda m: "#" * min(6, len(m.group(1)) + 2) + " ", text, flags=re.M)
        out[name] = text
    out["long_run"] = long_run_markdown()
    return out


def render(readme: str) -> str:
    for name, body in blocks().items():
        pat = re.compile(rf"(<!-- results:{name} -->\n)(?:.*?\n)?(<!-- /results:{name} -->)", re.S)
        if not pat.search(readme):
            raise SystemExit(f"README.md has no <!-- results:{name} --> ... <!-- /results:{name} --> markers")
        readme = pat.sub(lambda m: m.group(1) + body + "\n" + m.group(2), readme)
    return readme


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if README.md differs from the results")
    args = ap.parse_args(argv)
    path = REPO / "README.md"
    old = path.read_text()
    new = render(old)
    if args.check:
        if new != old:
            print("README.md is out of date: run python scripts/readme_results.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
