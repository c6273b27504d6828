#!/usr/bin/env python3
"""Fill in expected results for PromQL eval cases from the real Prometheus 2.42.

Usage: promql_eval_oracle.py SPEC.test > CASES.test

SPEC.test uses the syntax of Prometheus' promql/testdata files, but its
`eval instant at <time> <expr>` lines carry no expected samples. Each section
(separated by `clear`) has exactly one `load` block. The script runs every
section through `promtool test rules` (Debian's prometheus package, 2.42)
with empty expectations, reads the samples (or errors) promtool reports, and
prints the same file with the expectations filled in: the samples Prometheus
returned, or `eval_fail` when the query failed. Nothing is downloaded.

promtool sorts results, so ordering is not checked (no eval_ordered). Label
values must not contain `,`, `{`, `}` or quotes (the output is split on them).
This is how tests/aggregator/testdata/promql_oracle.test was produced.
"""
import json
import math
import os
import re
import subprocess
import sys
import tempfile


def parse_duration(s):
    """Prometheus' model.Duration: 1h30m, 5m, 10s, 250ms, 0s."""
    units = {"y": 365 * 86400000, "w": 7 * 86400000, "d": 86400000, "h": 3600000,
             "m": 60000, "s": 1000, "ms": 1}
    total = 0
    for num, unit in re.findall(r"(\d+)(ms|y|w|d|h|m|s)", s):
        total += int(num) * units[unit]
    return total


def go_float(text):
    if text in ("NaN",):
        return float("nan")
    if text in ("+Inf", "Inf"):
        return float("inf")
    if text == "-Inf":
        return float("-inf")
    return float(text)


def format_value(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


def parse_sections(lines):
    """[(load_interval, series_lines, [(line_index, time_text, expr)])]"""
    sections = []
    cur = None
    i = 0
    while i < len(lines):
        raw = lines[i]
        line = raw.strip()
        if line.startswith("load "):
            if cur is not None and cur["interval"] is not None:
                raise SystemExit(f"line {i+1}: one load per section (use clear)")
            if cur is None:
                cur = {"interval": None, "series": [], "evals": []}
                sections.append(cur)
            cur["interval"] = line.split()[1]
            i += 1
            while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith("#"):
                cur["series"].append(lines[i].strip())
                i += 1
            continue
        if line == "clear":
            cur = None
        elif line.startswith("eval instant at "):
            if cur is None:
                cur = {"interval": None, "series": [], "evals": []}
                sections.append(cur)
            rest = line[len("eval instant at "):]
            t, expr = rest.split(None, 1)
            cur["evals"].append((i, t, expr))
        i += 1
    return sections


def series_yaml(desc):
    m = re.match(r"^(\S*?\{.*?\}|\S+)\s+(.*)$", desc)
    if not m:
        raise SystemExit(f"bad series line: {desc}")
    return m.group(1), m.group(2)


def run_section(sec):
    """Returns {(expr, t_ms): ("ok", [(labels_text, value)]) | ("err", message)}."""
    interval = sec["interval"] or "1m"
    out = ["rule_files: []", "evaluation_interval: 1m", "tests:", f"  - interval: {interval}",
           "    input_series:"]
    for s in sec["series"]:
        name, values = series_yaml(s)
        out.append(f"      - series: {json.dumps(name)}")
        out.append(f"        values: {json.dumps(values)}")
    if not sec["series"]:
        out.append("      []")
    out.append("    promql_expr_test:")
    for _, t, expr in sec["evals"]:
        out.append(f"      - expr: {json.dumps(expr)}")
        out.append(f"        eval_time: {t}")
        out.append("        exp_samples: []")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.yml")
        with open(path, "w") as f:
            f.write("\n".join(out) + "\n")
        p = subprocess.run(["promtool", "test", "rules", path], capture_output=True, text=True)
    text = p.stdout + p.stderr
    results = {}
    # Each reported case: expr: "...", time: T,\n exp: ...\n got: ...  or  expr: "...", time: T, err: ...
    for m in re.finditer(r'expr: ("(?:[^"\\]|\\.)*"), time: (\S+?),(?: err: (.*)|\s*\n\s*exp: .*\n\s*got: (.*))',
                         text):
        expr = json.loads(m.group(1))
        t = parse_duration(m.group(2))
        if m.group(3) is not None:
            results[(expr, t)] = ("err", m.group(3))
            continue
        got = m.group(4).strip()
        samples = []
        if got != "nil":
            for lm in re.finditer(r"(\{[^}]*\}) (\S+?)(?:, |$)", got):
                samples.append((lm.group(1), go_float(lm.group(2))))
        results[(expr, t)] = ("ok", samples)
    if p.returncode != 0 and not results:
        raise SystemExit("promtool failed:\n" + text)
    return results


def main():
    spec = open(sys.argv[1]).read().split("\n")
    sections = parse_sections(spec)
    answers = {}
    for sec in sections:
        res = run_section(sec)
        for idx, t, expr in sec["evals"]:
            answers[idx] = res.get((expr, parse_duration(t)), ("ok", []))
    out = []
    for i, raw in enumerate(spec):
        if i not in answers:
            out.append(raw)
            continue
        kind, payload = answers[i]
        line = raw.strip()
        if kind == "err":
            out.append("# Prometheus: " + payload)
            out.append(line.replace("eval instant", "eval_fail instant", 1))
        else:
            out.append(line)
            for labels, v in payload:
                out.append(f"  {labels} {format_value(v)}")
        out.append("")
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
