#!/usr/bin/env python3
"""Ask the real Prometheus 2.42 (Debian's prometheus package) about PromQL queries.

Usage: promql_oracle.py QUERIES.json > ANSWERS.json

QUERIES.json is a JSON list of query strings. The answer is a JSON list of
{"expr", "ok", "error"} or {"expr", "ok", "formatted"}: parse errors come from
`promtool check rules` (Prometheus' own "L:C: parse error: ..." text), the
canonical form (Go's Expr.String()) from a throwaway `prometheus` server that
loads the valid queries as recording rules and lists them on /api/v1/rules.
The server runs on a free loopback port with a temporary data directory and is
stopped by its PID. Nothing is downloaded.

This is how the expectations in promql_parser_test.cc and
testdata/promql_prometheus_corpus.json were produced. Notes: an empty query is
reported as a rule-file error ("field 'expr' must be set in rule"), not a parse
error; strings are passed through YAML, so they must be valid Unicode.
"""
import json, os, re, socket, subprocess, sys, tempfile, time, urllib.request

def yaml_quote(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"': out.append('\\"')
        elif ch == '\\': out.append('\\\\')
        elif ch == '\n': out.append('\\n')
        elif ch == '\t': out.append('\\t')
        elif ch == '\r': out.append('\\r')
        elif 0x20 <= o < 0x7f: out.append(ch)
        elif o < 0x100: out.append('\\x%02x' % o)
        elif o < 0x10000: out.append('\\u%04x' % o)
        else: out.append('\\U%08x' % o)
    out.append('"')
    return "".join(out)

def rules_yaml(exprs):
    out = ["groups:", "- name: g", "  rules:"]
    for i, e in enumerate(exprs):
        out.append(f"  - record: r{i}")
        out.append(f"    expr: {yaml_quote(e)}")
    return "\n".join(out) + "\n"

def check(exprs, d):
    path = os.path.join(d, "check.yml")
    with open(path, "w") as f:
        f.write(rules_yaml(exprs))
    p = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True)
    errs = {}
    for line in (p.stdout + p.stderr).splitlines():
        m = re.search(r'rule (\d+), "r\d+": (?:could not parse expression: )?(.*)$', line)
        if m:
            errs.setdefault(int(m.group(1)) - 1, m.group(2))
    return errs, p.stdout + p.stderr

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port

def formatted(exprs, d):
    rules = os.path.join(d, "ok.yml")
    with open(rules, "w") as f:
        f.write(rules_yaml(exprs))
    cfg = os.path.join(d, "prom.yml")
    with open(cfg, "w") as f:
        f.write(f"global:\n  evaluation_interval: 1h\nrule_files:\n  - {rules}\n")
    port = free_port()
    proc = subprocess.Popen(["prometheus", f"--config.file={cfg}", f"--web.listen-address=127.0.0.1:{port}",
                             f"--storage.tsdb.path={os.path.join(d, 'data')}"],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "prom.log"), "w"))
    try:
        for _ in range(300):
            if proc.poll() is not None:
                break
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/rules", timeout=2).read()
                data = json.loads(body)["data"]["groups"]
                if data:
                    return {int(r["name"][1:]): r["query"] for r in data[0]["rules"]}
            except Exception:
                pass
            time.sleep(0.2)
        raise SystemExit("prometheus did not come up: " + open(os.path.join(d, "prom.log")).read()[-2000:])
    finally:
        proc.terminate(); proc.wait()

def main():
    exprs = json.load(open(sys.argv[1]))
    with tempfile.TemporaryDirectory() as d:
        errs, raw = check(exprs, d)
        good = [i for i in range(len(exprs)) if i not in errs]
        fmt = formatted([exprs[i] for i in good], d) if good else {}
        res = []
        for i, e in enumerate(exprs):
            if i in errs:
                res.append({"expr": e, "ok": False, "error": errs[i]})
            else:
                k = good.index(i)
                res.append({"expr": e, "ok": True, "formatted": fmt.get(k)})
        json.dump(res, sys.stdout, indent=1, ensure_ascii=False)
main()
