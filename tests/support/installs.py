"""Real installers against an index: a sample corpus, throwaway venvs, pip and uv runs."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.tools import add_sdist, add_wheel, client_env, require_tool, run


def make_corpus(root: Path) -> None:
    add_wheel(root, "app", "1.0", requires_dist=["Lib.Core>=1.0"])
    add_wheel(root, "Lib.Core", "1.0", sub="libs")
    add_wheel(root, "lib_core", "0.9", sub="libs")
    add_wheel(root, "py-limits", "1.0", requires_python=">=3.8")
    add_wheel(root, "py-limits", "2.0", requires_python=">=4")
    add_wheel(root, "yankee", "1.0")
    yanked = add_wheel(root, "yankee", "2.0")
    yanked.with_name(yanked.name + ".yanked").write_text("broken build\n")
    add_sdist(root, "only-sdist", "1.5")


def copy_venv(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, symlinks=True)
    return dest / "bin" / "python"


def installed(python: Path, dist: str, home: Path) -> str:
    out = run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({dist!r}))"],
        client_env(home),
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def install(client: str, python: Path, url: str, reqs: list[str], home: Path) -> str:
    env = client_env(home)
    if client == "pip":
        cmd = [
            str(python),
            "-m",
            "pip",
            "install",
            "--isolated",
            "--no-cache-dir",
            "--index-url",
            url + "/simple/",
            *reqs,
        ]
    else:
        cmd = [
            require_tool("uv"),
            "pip",
            "install",
            "--python",
            str(python),
            "--no-cache",
            "--index-url",
            url + "/simple/",
            *reqs,
        ]
    out = run(cmd, env)
    assert out.returncode == 0, f"{cmd}\n{out.stdout}\n{out.stderr}"
    return out.stdout + out.stderr
