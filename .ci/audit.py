"""`make audit`: pip-audit over requirements.lock, with an honest verdict.

pip-audit exits 1 both when it finds a vulnerability and when it cannot reach its service, and
reports "No known vulnerabilities found" when every package was skipped. This wrapper reads its
JSON report instead: a vulnerability fails (exit 1, listed); packages that could not be audited
(service unreachable, mirror without per-version data) are named and do not fail, so that an
offline CI is not red for a network reason, but the output never claims an audit that did not run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    pip_audit = Path(sys.executable).with_name("pip-audit")
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "audit.json"
        cmd = [
            str(pip_audit),
            "--requirement",
            str(ROOT / "requirements.lock"),
            "--no-deps",
            "--disable-pip",
            "--progress-spinner",
            "off",
            "--format",
            "json",
            "--output",
            str(report_path),
        ]
        run = subprocess.run(cmd, capture_output=True, text=True)
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            print("make audit : pip-audit n'a pas produit de rapport (service injoignable ?)")
            print(run.stderr.strip()[-2000:])
            print("Audit des dépendances NON fait.")
            return 0
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if d.get("skip_reason")]
    audited = len(deps) - len(skipped)
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "aucune"
            print(
                f"VULNÉRABLE {dep['name']} {dep['version']} : {vuln['id']} (corrigée en : {fixes})"
            )
    if skipped:
        names = ", ".join(f"{d['name']} {d.get('version', '')}".strip() for d in skipped)
        print(
            f"{len(skipped)} paquet(s) NON audité(s) (service injoignable ou sans données) : "
            f"{names}"
        )
    print(
        f"make audit : {audited} paquet(s) audité(s) sur {len(deps)}, "
        f"{len(vulnerable)} vulnérable(s)."
    )
    if audited == 0:
        print("Audit des dépendances NON fait : aucun paquet n'a pu être vérifié.")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
