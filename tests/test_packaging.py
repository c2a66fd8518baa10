"""The wheel that ``pip wheel .`` builds works outside the source tree: data files, py.typed, LICENSE."""
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECK = """
import pathlib, sys
import numpyro_pinn
from numpyro_pinn import posteriordb
here = pathlib.Path(numpyro_pinn.__file__).parent
assert str(here).startswith(sys.argv[1]), here
assert (here / "py.typed").exists()
post = posteriordb.load("eight_schools-eight_schools_noncentered")
assert set(post.reference["mu"]) >= {"mean", "sd", "q05", "q95"}, post.reference["mu"]
print("ok", numpyro_pinn.__version__)
"""


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_tree(tmp_path):
    # Built as a user would (pip's isolated build fetches the build backend from the package index).
    args = [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path / "dist")]
    subprocess.run(args, check=True, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("numpyro_pinn-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        zf.extractall(site)
    assert any(n.endswith("dist-info/licenses/LICENSE") or n.endswith("dist-info/LICENSE") for n in names), names
    assert sum(n.endswith(".json") for n in names) >= 32
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", CHECK, str(site)], cwd=tmp_path, env=env, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("ok")
