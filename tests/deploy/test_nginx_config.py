"""nginx/: the config as the container runs it (`nginx -t`, also as an unprivileged user), gixy,
its conventions, and the Dockerfile (hadolint, and agreement with the pod spec)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.conftest import BASE, REPO, load_documents
from tests.support import process
from tests.support.nginx_server import CONFIG_DIR, copy_includes, render_config
from tests.support.tools import free_port, require_tool

CONF = CONFIG_DIR / "nginx.conf"
DOCKERFILE = CONFIG_DIR / "Dockerfile"


def _directives(name: str) -> list[str]:
    """The arguments of every occurrence of a directive (comments stripped)."""
    text = re.sub(r"#.*", "", CONF.read_text())
    return [m.strip() for m in re.findall(rf"(?m)^\s*{name}\s+([^;]*);", text)]


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd, timeout=120)


# --- conventions -------------------------------------------------------------------------------


def test_marked_lines_are_exact() -> None:
    lines = CONF.read_text().splitlines()
    assert lines.count("        root /srv/pypapo;  # PYPAPO_ROOT") == 1
    assert lines.count("        listen 3333;  # PYPAPO_LISTEN") == 1
    assert sum(line.endswith("# PYPAPO_ACCESS_LOG") for line in lines) == 1
    assert _directives("root") == ["/srv/pypapo"]
    assert _directives("listen") == ["3333"]


def test_render_replaces_only_the_marked_lines(tmp_path: Path) -> None:
    rendered = render_config("127.0.0.1:1234", tmp_path, tmp_path / "a.log")
    before, after = CONF.read_text().splitlines(), rendered.splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert [b.strip() for _, b in changed] == [
        f"access_log {tmp_path / 'a.log'};  # PYPAPO_ACCESS_LOG",
        "listen 127.0.0.1:1234;  # PYPAPO_LISTEN",
        f"root {tmp_path};  # PYPAPO_ROOT",
    ]


def test_unprivileged_and_prefix_relative() -> None:
    assert _directives("user") == []  # runs as whoever starts it
    assert _directives("daemon") == []  # left to the command line (-g 'daemon off;')
    assert _directives("error_log") == ["stderr warn"]
    assert _directives("access_log")[0] == "/dev/stdout"
    for name in ("pid", *(f"{t}_temp_path" for t in ("client_body", "proxy", "fastcgi"))):
        [value] = _directives(name)
        assert not value.startswith("/"), f"{name} must be relative to the -p prefix"
    for name in ("uwsgi_temp_path", "scgi_temp_path"):
        [value] = _directives(name)
        assert not value.startswith("/"), name
    assert _directives("server_tokens") == ["off"]
    assert _directives("absolute_redirect") == ["off"]
    assert "on" not in _directives("autoindex")
    assert not [i for i in _directives("include") if i.startswith("/")]  # self-contained


# --- nginx -t ----------------------------------------------------------------------------------


def test_nginx_t_as_the_container_runs_it(tmp_path: Path) -> None:
    """Same file, only the root substituted; -p prefix a temp dir, like the emptyDir."""
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    copy_includes(prefix)
    (prefix / "nginx.conf").write_text(render_config(root=tmp_path / "root"))
    result = _run(
        [require_tool("nginx"), "-t", "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf")]
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
    assert "[warn]" not in result.stderr and "[emerg]" not in result.stderr, result.stderr


def test_nginx_t_fails_on_a_broken_config(tmp_path: Path) -> None:
    copy_includes(tmp_path)
    (tmp_path / "nginx.conf").write_text(render_config().replace("autoindex off;", "autoindex;"))
    result = _run(
        [require_tool("nginx"), "-t", "-p", f"{tmp_path}/", "-c", str(tmp_path / "nginx.conf")]
    )
    assert result.returncode != 0


@pytest.fixture
def unprivileged_dir() -> Iterator[Path]:
    """A world-readable dir owned by nobody (pytest's tmp dirs are 0700 root)."""
    if os.geteuid() != 0:
        pytest.skip("not root: every other nginx test already runs unprivileged")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to drop privileges")
    path = Path(tempfile.mkdtemp(prefix="pypapo-nginx-"))
    path.chmod(0o755)
    os.chown(path, 65534, 65534)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def test_serves_as_an_unprivileged_user_like_the_pod(unprivileged_dir: Path) -> None:
    """No user directive, no root: pid, temp dirs and logs all live under the prefix."""
    prefix, root = unprivileged_dir / "prefix", unprivileged_dir / "root"
    for directory in (prefix, root / "simple"):
        directory.mkdir(parents=True)
    (root / "simple" / "index.html").write_text("<!DOCTYPE html><title>x</title>")
    copy_includes(prefix)
    port = free_port()
    (prefix / "nginx.conf").write_text(
        render_config(f"127.0.0.1:{port}", root, prefix / "access.log")
    )
    for path in [unprivileged_dir, *unprivileged_dir.rglob("*")]:
        os.chown(path, 65534, 65534)
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    cmd += [require_tool("nginx"), "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf")]
    log = unprivileged_dir / "out.log"
    server = process.start([*cmd, "-g", "daemon off;"], log)
    try:
        process.wait_ready(server, f"http://127.0.0.1:{port}/healthz", log, name="nginx")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/simple/", timeout=5) as response:
            assert response.read() == b"<!DOCTYPE html><title>x</title>"
        assert (prefix / "nginx.pid").read_text().strip() == str(server.pid)
        assert (prefix / "client_body").is_dir()
        assert "[emerg]" not in log.read_text() and "[warn]" not in log.read_text()
    finally:
        process.stop(server)


# --- gixy --------------------------------------------------------------------------------------


def _gixy(directory: Path) -> subprocess.CompletedProcess[str]:
    return _run([require_tool("gixy"), "nginx.conf"], cwd=directory)


def test_gixy_finds_nothing(tmp_path: Path) -> None:
    copy_includes(tmp_path)
    shutil.copy(CONF, tmp_path / "nginx.conf")
    result = _gixy(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ">> Problem" not in result.stdout, result.stdout
    for severity in ("Unspecified", "Low", "Medium", "High"):
        assert re.search(rf"{severity}: 0\b", result.stdout), result.stdout


def test_gixy_reports_a_known_problem(tmp_path: Path) -> None:
    copy_includes(tmp_path)
    broken = re.sub(r"(?m)^worker_rlimit_nofile .*$", "", CONF.read_text())
    (tmp_path / "nginx.conf").write_text(broken)
    result = _gixy(tmp_path)
    assert result.returncode != 0
    assert "worker_rlimit_nofile" in result.stdout


# --- Dockerfile --------------------------------------------------------------------------------


def test_dockerfile_is_hadolint_clean() -> None:
    result = _run([require_tool("hadolint"), "--failure-threshold", "style", str(DOCKERFILE)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_dockerfile_matches_config_and_pod() -> None:
    text = DOCKERFILE.read_text()
    [base] = re.findall(r"(?m)^FROM (\S+)", text)
    name, _, tag = base.partition(":")
    assert name == "nginxinc/nginx-unprivileged"
    assert re.fullmatch(r"\d+\.\d+\.\d+(-\w+)?@sha256:[0-9a-f]{64}", tag), "pin by digest"
    assert "imagetools inspect nginxinc/nginx-unprivileged:" in text  # how to refresh it
    users = re.findall(r"(?m)^USER (\S+)", text)
    assert users[-1] == "101"
    assert re.search(r"(?m)^EXPOSE 3333$", text)
    copied = re.findall(r"(?m)^COPY (\S+) (\S+)$", text)
    for source, destination in copied:
        assert (REPO / source).is_file()
        assert destination.startswith("/etc/nginx/")
    assert {s for s, _ in copied} == {f"nginx/{p.name}" for p in CONFIG_DIR.glob("*.conf")}
    [entrypoint] = re.findall(r"(?m)^ENTRYPOINT (.*)$", text)
    assert entrypoint == (
        '["nginx", "-p", "/tmp/nginx/", "-c", "/etc/nginx/nginx.conf", "-g", "daemon off;"]'
    )
    [deployment] = load_documents(BASE / "deployment.yaml")
    spec = deployment["spec"]["template"]["spec"]
    [container] = spec["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["nginx-tmp"] + "/" == "/tmp/nginx/"  # noqa: S108 (the -p prefix)
    assert mounts["index"] == _directives("root")[0]
    assert container["securityContext"]["runAsUser"] == int(users[-1])
    assert container["ports"][0]["containerPort"] == int(_directives("listen")[0])
