#!/usr/bin/env python3
"""Runs `tally test-rules` on each deliberately failing unit-test file in a
directory and checks that stdout, stderr and the exit code are exactly what
promtool 2.42 printed for the same file (recorded as NAME.stdout, NAME.stderr,
NAME.rc). When promtool is installed, also checks that promtool still prints
the recorded output, so the recordings cannot drift from the real tool.

  rules_promtool_compare.py TALLY_BINARY DIR [--record]

--record rewrites the recordings from promtool (needs promtool).
"""
import os
import shutil
import subprocess
import sys


def run(cmd, cwd):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    return p.stdout, p.stderr, p.returncode


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    record = "--record" in sys.argv
    tally, directory = os.path.abspath(args[0]), args[1]
    promtool = shutil.which("promtool")
    files = sorted(f for f in os.listdir(directory) if f.endswith(".yml"))
    if not files:
        print("no .yml files in", directory)
        return 1
    failures = 0
    for f in files:
        name = f[:-4]
        if record:
            out, err, rc = run([promtool, "test", "rules", f], directory)
            for ext, text in (("stdout", out), ("stderr", err), ("rc", f"{rc}\n")):
                with open(os.path.join(directory, f"{name}.{ext}"), "w") as fh:
                    fh.write(text)
            continue
        want = []
        for ext in ("stdout", "stderr", "rc"):
            with open(os.path.join(directory, f"{name}.{ext}")) as fh:
                want.append(fh.read())
        want[2] = int(want[2])
        if want[2] == 0:
            print(f"{f}: the recording says promtool passed; these files must fail")
            failures += 1
        peers = [("tally", [tally, "test-rules", f])]
        if promtool:
            peers.append(("promtool", [promtool, "test", "rules", f]))
        for peer, cmd in peers:
            got = list(run(cmd, directory))
            for what, g, w in zip(("stdout", "stderr", "exit code"), got, want):
                if g != w:
                    failures += 1
                    print(f"{f}: {peer} {what} differs from the recording:\n--- want\n{w}\n--- got\n{g}")
        print(f"{f}: checked against {', '.join(p for p, _ in peers)}")
    if record:
        print(f"recorded promtool's output for {len(files)} files")
        return 0
    if failures:
        print(f"{failures} difference(s)")
        return 1
    print(f"{len(files)} files: tally matches promtool")
    return 0


if __name__ == "__main__":
    sys.exit(main())
