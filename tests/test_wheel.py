"""drawkit as a user installs it: the built wheel in a fresh virtualenv outside the
repository runs `drawkit report` (the notebooks, templates and verifier ship inside it)."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    assert done.returncode == 0, f"{command[:3]}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from this checkout, installed (without dependencies) into a fresh
    venv whose other packages come from the test venv's site-packages (not its drawkit)."""
    root = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", root / "dist", REPO,
        cwd=root)
    (wheel,) = (root / "dist").glob("drawkit-*.whl")
    venv = root / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=root)
    py = venv / "bin" / "python"
    target = Path(run(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                      cwd=root).strip())
    (target / "borrowed-dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    run(py, "-m", "pip", "install", "--quiet", "--no-deps", wheel, cwd=root)
    where = run(py, "-c", "import drawkit, sys; print(drawkit.__file__)", cwd=root)
    assert where.startswith(str(target)), where  # the wheel, not this checkout
    return venv


def test_the_installed_wheel_runs_the_day_outside_the_repository(installed, tmp_path,
                                                                  drand_chain) -> None:
    drawkit = installed / "bin" / "drawkit"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTHOG_", "PYTHONPATH"))}
    env |= {"DRAWKIT_DRAND_RELAYS": drand_chain.url,
            "DRAWKIT_DRAND_CHAIN_HASH": drand_chain.chain_hash,
            "DRAWKIT_DRAW_SECRET": "ab" * 32,
            "JUPYTER_PATH": str(tmp_path / "jupyter"),  # no kernel but the one it registers
            "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data")}
    # nbconvert's templates are data files of the borrowed packages: link them in
    (tmp_path / "jupyter").mkdir()
    (tmp_path / "jupyter" / "nbconvert").symlink_to(Path(sys.prefix) / "share/jupyter/nbconvert")
    (tmp_path / "promo.toml").write_text(textwrap.dedent("""\
        [beacon]
        commit_margin_seconds = 1
        """))
    run(drawkit, "synth", "--subscribers", "200", "--days", "2", "--end-date", "2026-11-24",
        "--out", "data", cwd=tmp_path, env=env)
    out = run(drawkit, "report", "--date", "2026-11-24", "--recharges", "data/recharges.csv",
              "--config", "promo.toml", "--workspace", "ws", "--accept-test-chain",
              "--simulations", "50", "--history-days", "1", "--no-progress",
              cwd=tmp_path, env=env)
    assert "Verdict: PASS" in out, out
    folder = next((tmp_path / "ws" / "reports").iterdir())
    for name in ("index.html", "03_audit.html", "verifier/index.html", "record.public.json"):
        assert (folder / name).is_file(), name
