"""Reproducible Lambda zip builder (``tenant-authz package`` / ``make package``).

The zip holds the runtime dependencies of ``[project].dependencies`` installed as
manylinux wheels for the target architecture and Python version (boto3/botocore
excluded: the Lambda runtime provides them, docs/decisions/0010), plus the
``tenant_authorizer`` files the function runs: ``handler.py``, the package's
``__init__.py`` and ``py.typed``, and the ``runtime/`` folder (an allow-list).

Same inputs, same bytes: entries are sorted, every timestamp is 1980-01-01, permissions
are fixed (0644 files, 0755 directories), and the files that vary between installs
(``__pycache__``, ``RECORD``, ``INSTALLER``, ``REQUESTED``, ``direct_url.json``, console
scripts with an absolute interpreter path) are dropped.

Bytecode: Lambda's code directory is read-only, so without ``.pyc`` files every cold start
compiles every module it imports. When an interpreter of the target Python version is
available (``python3.12`` on the PATH, or a pyenv version), the tree is compiled with it:
unchecked-hash pycs (no timestamps) with ``/var/task`` as the recorded path, so the
bytes stay reproducible and tracebacks name the paths Lambda shows.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ARCHITECTURES: Final = {"arm64": "aarch64", "x86_64": "x86_64"}
PYTHON_VERSIONS: Final = ("3.12", "3.13")
PROVIDED_BY_RUNTIME: Final = frozenset({"boto3", "botocore"})
# What of the package the zip carries, by name: the handler and the runtime folder (an
# allow-list: a new tools or dev module can never slip into the function).
SHIPPED_FILES: Final = ("__init__.py", "py.typed", "handler.py")
SHIPPED_FOLDERS: Final = ("runtime",)
PACKAGE: Final = "tenant_authorizer"
FIXED_DATE: Final = (1980, 1, 1, 0, 0, 0)
_DROPPED_DIST_FILES: Final = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
_ELF_MACHINES: Final = {62: "x86_64", 183: "aarch64"}
_REQ_NAME_RE: Final = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")

PROJECT_ROOT: Final = Path(__file__).resolve().parents[3]
# The pinned versions `make package` installs (and `make lock` writes).
LOCK_FILE: Final = PROJECT_ROOT / "platform" / "lambda-constraints.txt"
_LOCK_HEADER: Final = """\
# The versions of the Lambda zip's dependencies: `make package` installs exactly these
# (docs/decisions/0020), so a rebuild of the same commit on any machine gives the same
# zip. `make lock` rewrites this file from the newest versions pyproject.toml allows;
# commit it, and release it like code (docs/runbooks/release.md).
"""
PACKAGE_DIR: Final = Path(__file__).resolve().parents[1]


class PackagingError(Exception):
    """Raised when the zip cannot be built; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class BuildResult:
    """The zip that was written and what identifies it."""

    path: Path
    size: int
    sha256: str
    base64sha256: str  # what Terraform's filebase64sha256() and source_code_hash use
    distributions: tuple[str, ...]  # name==version of every installed distribution
    entries: int
    bytecode: str | None = None  # the interpreter version that compiled the pycs, if any


def default_output(arch: str, python_version: str) -> Path:
    """``build/lambda-<arch>-py<version>.zip``, the path Terraform deploys by default."""
    return PROJECT_ROOT / "build" / f"lambda-{arch}-py{python_version}.zip"


def canonical_name(requirement: str) -> str:
    """The normalized distribution name of a requirement string (PEP 503)."""
    match = _REQ_NAME_RE.match(requirement)
    if match is None:
        raise PackagingError(f"cannot read the requirement {requirement!r} in pyproject.toml")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def runtime_requirements(pyproject: Path = PROJECT_ROOT / "pyproject.toml") -> list[str]:
    """``[project].dependencies`` without what the Lambda runtime already provides."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    dependencies: list[str] = data["project"]["dependencies"]
    return [r for r in dependencies if canonical_name(r) not in PROVIDED_BY_RUNTIME]


def shipped_modules(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """The package files the zip carries: ``SHIPPED_FILES`` and ``SHIPPED_FOLDERS``."""
    files = [package_dir / name for name in SHIPPED_FILES if (package_dir / name).exists()]
    for folder in SHIPPED_FOLDERS:
        for path in sorted((package_dir / folder).rglob("*.py")):
            if "__pycache__" not in path.relative_to(package_dir).parts:
                files.append(path)
    return sorted(files)


def _pip_install(
    target: Path,
    requirements: Sequence[str],
    *,
    arch: str,
    python_version: str,
    cache_dir: Path | None,
    constraints: Path | None,
) -> None:
    command = [
        sys.executable, "-m", "pip", "install",
        "--quiet", "--disable-pip-version-check", "--no-compile", "--no-input",
        "--target", str(target),
        "--platform", f"manylinux2014_{ARCHITECTURES[arch]}",
        "--implementation", "cp",
        "--python-version", python_version,
        "--only-binary=:all:",
    ]  # fmt: skip
    if cache_dir is not None:
        command += ["--cache-dir", str(cache_dir)]
    if constraints is not None:
        command += ["--constraint", str(constraints)]
    command += list(requirements)
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise PackagingError(
            "pip could not install the runtime dependencies as manylinux wheels for "
            f"{arch}/Python {python_version}; check the network and pyproject.toml:\n"
            + "\n".join(detail)
        )


def _prune(site: Path) -> None:
    shutil.rmtree(site / "bin", ignore_errors=True)  # scripts carry an absolute shebang
    for tests in sorted(site.glob("*/tests")) + sorted(site.glob("*/test")):
        if tests.is_dir():  # dependencies' own test suites (certifi ships one)
            shutil.rmtree(tests)
    for cache in sorted(site.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache, ignore_errors=True)
    for path in sorted(site.rglob("*")):
        if path.is_file() and (
            path.suffix in {".pyc", ".pyo"}
            or (path.parent.name.endswith(".dist-info") and path.name in _DROPPED_DIST_FILES)
        ):
            path.unlink()


def _check_architecture(site: Path, arch: str) -> None:
    expected = ARCHITECTURES[arch]
    for path in sorted(site.rglob("*.so*")):
        with path.open("rb") as handle:
            header = handle.read(20)
        if header[:4] != b"\x7fELF":
            continue
        machine = _ELF_MACHINES.get(int.from_bytes(header[18:20], "little"), "unknown")
        if machine != expected:
            raise PackagingError(
                f"{path.relative_to(site)} is built for {machine}, not {expected}: "
                "pin a dependency version that publishes manylinux wheels for this architecture"
            )


def _distributions(site: Path) -> tuple[str, ...]:
    out = []
    for info in sorted(site.glob("*.dist-info")):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        out.append(f"{name}=={version}")
    return tuple(out)


def read_lock(path: Path) -> dict[str, str]:
    """Distribution name -> pinned version of a constraints file (``name==version`` lines)."""
    pins: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        name, sep, version = text.partition("==")
        if not sep or not version.strip():
            raise PackagingError(
                f"{path}:{number}: {text!r} is not a name==version pin: run make lock"
            )
        pins[canonical_name(name)] = version.strip()
    return pins


def write_lock(distributions: Iterable[str], path: Path = LOCK_FILE) -> None:
    """Write the pins of ``distributions`` (``name==version``) as the lock file."""
    lines = sorted(f"{canonical_name(d)}=={d.partition('==')[2]}" for d in distributions)
    path.write_text(_LOCK_HEADER + "".join(f"{line}\n" for line in lines), encoding="utf-8")


def _check_pinned(distributions: Sequence[str], lock: Path) -> None:
    pins = read_lock(lock)
    for distribution in distributions:
        name, _, version = distribution.partition("==")
        if pins.get(canonical_name(name)) != version:
            raise PackagingError(
                f"{name} {version} is not pinned in {lock} (a dependency changed in "
                "pyproject.toml?): run make lock and commit the file"
            )


def _entries(root: Path) -> Iterable[tuple[str, Path]]:
    for path in root.rglob("*"):
        yield path.relative_to(root).as_posix() + ("/" if path.is_dir() else ""), path


def write_zip(root: Path, output: Path) -> int:
    """Zip ``root`` deterministically into ``output``; return the number of entries."""
    output.parent.mkdir(parents=True, exist_ok=True)
    entries = sorted(_entries(root))
    tmp = output.with_suffix(output.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.create_system = 3  # Unix, so that external_attr holds the mode
            if path.is_dir():
                info.external_attr = (0o040755 << 16) | 0x10
                info.compress_type = zipfile.ZIP_STORED
                archive.writestr(info, b"")
            else:
                info.external_attr = 0o100644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes(), compresslevel=9)
    tmp.replace(output)
    return len(entries)


def find_interpreter(python_version: str) -> tuple[Path, str] | None:
    """An interpreter of ``python_version`` (path, full version), from the PATH or pyenv."""
    candidates: list[Path] = []
    on_path = shutil.which(f"python{python_version}")
    if on_path:
        candidates.append(Path(on_path))
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run(  # noqa: S603  (pyenv from the PATH, fixed arguments)
            [pyenv, "root"], capture_output=True, text=True, check=False
        ).stdout.strip()
        versions = sorted(
            Path(root, "versions").glob(f"{python_version}.*"),
            key=lambda p: [int(x) if x.isdigit() else 0 for x in p.name.split(".")],
            reverse=True,
        )
        candidates.extend(v / "bin" / "python" for v in versions)
    for candidate in candidates:
        result = subprocess.run(  # noqa: S603  (a Python interpreter found above, fixed code)
            [str(candidate), "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            check=False,
            env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
        )
        version = result.stdout.strip()
        if result.returncode == 0 and version.startswith(f"{python_version}."):
            return candidate, version
    return None


def _compile_bytecode(site: Path, python_version: str) -> str | None:
    """Compile every module of ``site`` with the target interpreter; its version, or None."""
    found = find_interpreter(python_version)
    if found is None:
        return None
    interpreter, version = found
    result = subprocess.run(  # noqa: S603  (the target interpreter, fixed arguments)
        [
            str(interpreter),
            "-m",
            "compileall",
            "-q",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
            str(site),
            "-p",
            "/var/task",
            str(site),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
    )
    if result.returncode != 0:
        raise PackagingError(
            f"compiling bytecode with {interpreter} failed: {result.stdout[-500:]}"
            f"{result.stderr[-500:]}"
        )
    return version


def build(
    output: Path | None = None,
    *,
    arch: str = "arm64",
    python_version: str = "3.12",
    cache_dir: Path | None = None,
    constraints: Path | None = LOCK_FILE,
) -> BuildResult:
    """Build the Lambda zip; raise :class:`PackagingError` with the fix on failure.

    ``constraints`` pins every dependency (by default the lock file, and then every
    installed distribution must be pinned there); None installs the newest versions
    pyproject.toml allows, as `make lock` does before writing the lock.
    """
    if arch not in ARCHITECTURES:
        raise PackagingError(f"unknown architecture {arch!r}: use arm64 or x86_64")
    if python_version not in PYTHON_VERSIONS:
        raise PackagingError(f"unsupported Python {python_version!r}: use 3.12 or 3.13")
    target = output if output is not None else default_output(arch, python_version)
    with tempfile.TemporaryDirectory(prefix="tenant-authz-package-") as tmp:
        site = Path(tmp) / "site"
        site.mkdir()
        _pip_install(
            site,
            runtime_requirements(),
            arch=arch,
            python_version=python_version,
            cache_dir=cache_dir,
            constraints=constraints,
        )
        _prune(site)
        _check_architecture(site, arch)
        if (site / PACKAGE).exists():
            raise PackagingError(
                f"a dependency installed a {PACKAGE!r} package: remove it from the dependencies"
            )
        for source in shipped_modules():
            destination = site / PACKAGE / source.relative_to(PACKAGE_DIR)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(source.read_bytes())
        distributions = _distributions(site)
        if constraints is not None:
            _check_pinned(distributions, constraints)
        bytecode = _compile_bytecode(site, python_version)
        count = write_zip(site, target)
    data = target.read_bytes()
    digest = hashlib.sha256(data)
    return BuildResult(
        path=target,
        size=len(data),
        sha256=digest.hexdigest(),
        base64sha256=base64.b64encode(digest.digest()).decode("ascii"),
        distributions=distributions,
        entries=count,
        bytecode=bytecode,
    )
