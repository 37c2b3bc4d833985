"""Run slither on contracts/ and fail on any finding of medium or high impact.

OpenZeppelin's files are filtered out; low and informational findings are printed but
do not fail the build. Uses tools/solc (solc-js) through slither's standard-JSON mode.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAILING_IMPACTS = {"Medium", "High"}


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "slither.json"
        cmd = [
            str(ROOT / ".venv" / "bin" / "slither"), "contracts",
            "--solc", str(ROOT / "tools" / "solc"), "--solc-standard-json",
            "--solc-remaps", "@openzeppelin/contracts=node_modules/@openzeppelin/contracts",
            "--filter-paths", "node_modules", "--json", str(report),
        ]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
        if not report.exists():
            print(proc.stdout, proc.stderr, sep="\n", file=sys.stderr)
            print("slither did not produce a report: see its output above", file=sys.stderr)
            return 2
        data = json.loads(report.read_text())
    if not data.get("success", False):
        print(f"slither failed: {data.get('error')}", file=sys.stderr)
        return 2
    findings = data.get("results", {}).get("detectors", [])
    failing = [f for f in findings if f["impact"] in FAILING_IMPACTS]
    for f in findings:
        print(f"[{f['impact']}/{f['confidence']}] {f['check']}: {f['description'].strip().splitlines()[0]}")
    print(f"slither: {len(findings)} findings, {len(failing)} of medium or high impact")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
