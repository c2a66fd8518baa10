"""Examples run end to end with tiny budgets (as NumPyro's test_examples does)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize(
    "script, args",
    [("examples/eight_schools.py", ["--num-steps", "300", "--num-samples", "300", "--nuts-samples", "100",
                                    "--no-progress"]),
     ("examples/compare_nuts.py", ["--num-steps", "300", "--nuts-samples", "100", "--out-dir", "{tmp}"]),
     ("examples/model_choice.py", ["--num-samples", "500", "--no-progress"]),
     ("examples/diagnostics_figures.py", ["--num-steps", "300", "--nuts-samples", "100", "--pt-samples", "200",
                                          "--out-dir", "{tmp}"])],
)
def test_example_runs(script, args, tmp_path):
    args = [a.format(tmp=tmp_path) for a in args]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    out = subprocess.run([sys.executable, str(ROOT / script), *args], capture_output=True, text=True, env=env,
                         timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    if script.endswith("model_choice.py"):
        assert "exact log Bayes factor" in out.stdout
        return
    if script.endswith("diagnostics_figures.py"):
        assert len(list(tmp_path.glob("*.png"))) == 3 and "PT (hmc" in out.stdout
        return
    assert "NUTS" in out.stdout and "wall time" in out.stdout
    if script.endswith("eight_schools.py"):
        # the summary line, with a note in brackets where the draws came from the base (the fallback)
        assert re.search(r"PINN \(ode\)(?: \[[^\n]*\])?: ESS = [0-9.]+", out.stdout), out.stdout[-3000:]
        # One naming (NumPyro's, 0-based) in all three tables, reference values beside the errors.
        assert "theta[7]" in out.stdout and "theta[8]" not in out.stdout and "ref mean" in out.stdout
    else:
        assert "P(mu > 0)" in out.stdout and len(list(tmp_path.glob("*.png"))) == 2
