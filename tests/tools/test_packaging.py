"""The Lambda zip: reproducible, complete for the handler, and nothing else.

Building runs pip against the package index (manylinux wheels for arm64): about 5 s the
first time, 2 s per build with the shared cache in build/.pip-cache.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenant_authorizer.tools import packaging
from tenant_authorizer.tools.packaging import (
    LOCK_FILE,
    BuildResult,
    PackagingError,
    build,
    canonical_name,
    read_lock,
    write_lock,
)

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "build" / ".pip-cache"
TOOLS_ONLY_IMPORTS = frozenset({"click", "yaml", "jsonschema"})


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuildResult, BuildResult]:
    """Two arm64 builds of the same tree, into different paths."""
    root = tmp_path_factory.mktemp("package")
    first = build(root / "a" / "lambda.zip", arch="arm64", python_version="3.12", cache_dir=CACHE)
    second = build(root / "b" / "lambda.zip", arch="arm64", python_version="3.12", cache_dir=CACHE)
    return first, second


@pytest.fixture(scope="module")
def archive(builds: tuple[BuildResult, BuildResult]) -> Iterator[zipfile.ZipFile]:
    """The first build, open."""
    with zipfile.ZipFile(builds[0].path) as zipped:
        yield zipped


def test_two_builds_are_byte_identical(builds: tuple[BuildResult, BuildResult]) -> None:
    """Same inputs give the same bytes: the zip's hash is a function of the sources."""
    first, second = builds
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256
    assert first.size == first.path.stat().st_size


def test_entries_are_sorted_with_fixed_time_and_modes(archive: zipfile.ZipFile) -> None:
    """Entries are sorted, dated 1980-01-01 and 0644 (files) / 0755 (directories)."""
    infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    modes = {(i.is_dir(), i.external_attr >> 16) for i in infos}
    assert modes == {(False, 0o100644), (True, 0o040755)}


@pytest.mark.parametrize(
    "forbidden",
    ["boto3/", "botocore/", "tests/", "/RECORD", "/INSTALLER", "bin/", ".cpython-311"],
)
def test_zip_leaves_out_what_the_runtime_must_not_carry(
    archive: zipfile.ZipFile, forbidden: str
) -> None:
    """No boto3/botocore, tests, install records, console scripts or host bytecode."""
    names = archive.namelist()
    assert not [n for n in names if n.startswith(forbidden) or forbidden in n]


@pytest.mark.skipif(
    packaging.find_interpreter("3.12") is None, reason="no Python 3.12 to compile bytecode with"
)
def test_bytecode_for_the_target_python_is_shipped(archive: zipfile.ZipFile) -> None:
    """Every shipped module has an unchecked-hash 3.12 pyc recording Lambda's /var/task path."""
    names = set(archive.namelist())
    modules = [n for n in names if n.startswith("tenant_authorizer/") and n.endswith(".py")]
    assert modules
    for module in modules:
        folder, _, filename = module.rpartition("/")
        pyc = f"{folder}/__pycache__/{filename[:-3]}.cpython-312.pyc"
        assert pyc in names, pyc
        data = archive.read(pyc)
        assert int.from_bytes(data[4:8], "little") == 1, "hash-based, source never checked"
        assert f"/var/task/{module}".encode() in data


NOT_SHIPPED = ("tenant_authorizer/cli.py", "tenant_authorizer/tools/", "tenant_authorizer/dev/")


@pytest.mark.parametrize("prefix", NOT_SHIPPED)
def test_tools_modules_are_not_shipped(archive: zipfile.ZipFile, prefix: str) -> None:
    """The command-line tools (and the local stack) stay out of the Lambda zip."""
    assert not [n for n in archive.namelist() if n.startswith(prefix)]


def test_the_zip_carries_the_runtime_by_folder(archive: zipfile.ZipFile) -> None:
    """The package in the zip is handler.py, __init__.py, py.typed and runtime/: no more."""
    shipped = {
        n.removeprefix("tenant_authorizer/")
        for n in archive.namelist()
        if n.startswith("tenant_authorizer/") and "__pycache__" not in n and not n.endswith("/")
    }
    runtime = packaging.PACKAGE_DIR / "runtime"
    expected = {"handler.py", "__init__.py", "py.typed"} | {
        f"runtime/{p.relative_to(runtime)}" for p in runtime.rglob("*.py")
    }
    assert shipped == expected


def test_handler_and_its_dependencies_are_shipped(archive: zipfile.ZipFile) -> None:
    """The handler module, its package and the runtime dependencies are in the zip."""
    names = set(archive.namelist())
    for required in (
        "tenant_authorizer/handler.py",
        "tenant_authorizer/__init__.py",
        "tenant_authorizer/py.typed",
        "jwt/__init__.py",
        "cryptography/__init__.py",
    ):
        assert required in names
    # The fetcher is http.client: requests (and its urllib3, idna, certifi) stay out; the
    # caches are the runtime's own table: cachetools stays out.
    tops = {n.split("/")[0] for n in names}
    assert not tops & {"requests", "urllib3", "idna", "certifi", "cachetools"}


def test_native_extensions_are_built_for_arm64(archive: zipfile.ZipFile) -> None:
    """Every ELF extension in an arm64 zip is an aarch64 binary."""
    machines = set()
    for name in archive.namelist():
        if ".so" in name:
            header = archive.read(name)[:20]
            if header[:4] == b"\x7fELF":
                machines.add(int.from_bytes(header[18:20], "little"))
    assert machines == {183}


def test_handler_imports_resolve_from_the_zip(archive: zipfile.ZipFile, tmp_path: Path) -> None:
    """Importing the handler from the unpacked package needs nothing the zip lacks.

    The native wheels are aarch64, so the host's own third-party packages stand in for
    them; the package itself comes from the zip only.
    """
    members = [n for n in archive.namelist() if n.startswith("tenant_authorizer/")]
    archive.extractall(tmp_path, members=members)
    script = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "import tenant_authorizer.handler as h\n"
        "loaded = sorted(set(sys.modules) - before)\n"
        "print(json.dumps({'file': h.__file__, 'loaded': loaded}))\n"
    )
    site = [p for p in sys.path if p.endswith("site-packages")]
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path[:0] = {[str(tmp_path), *site]!r}\n" + script,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    report = json.loads(result.stdout)
    assert report["file"].startswith(str(tmp_path))
    top_level = {m.split(".")[0] for m in report["loaded"]} - set(sys.stdlib_module_names)
    shipped = {n.split("/")[0].removesuffix(".py") for n in archive.namelist()}
    # Provided by the Lambda runtime, or internal names of the host's native stand-ins.
    provided = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six"}
    provided |= {"_cffi_backend", "_openssl", "_rust"}
    assert top_level - shipped - provided == set()
    outside = ("tenant_authorizer.tools", "tenant_authorizer.dev", "tenant_authorizer.cli")
    assert not [m for m in report["loaded"] if m.startswith(outside)]


def test_handler_import_leaves_out_what_the_warm_path_does_not_need() -> None:
    """The cold start imports neither the tenant-config parser nor the HTTP or AWS clients.

    They are imported when first needed (an account document to parse, a JWKS or SSM
    request): at import they would cost every cold start, warm instances never use them.
    """
    lazy = [
        "tenant_authorizer.runtime.tenant_parser",
        "tenant_authorizer.runtime.tenant_fields",
        "requests",
        "urllib3",
        "boto3",
        "botocore",
    ]
    script = (
        "import json, sys\n"
        "import tenant_authorizer.handler\n"
        f"print(json.dumps([m for m in {lazy!r} if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"PYTHONPATH": str(REPO / "platform")},
        cwd=REPO,
    )
    assert json.loads(result.stdout) == []


def test_every_tools_module_is_excluded() -> None:
    """No module the zip carries imports click, yaml or jsonschema (tools-only deps)."""
    for path in packaging.shipped_modules():
        if path.suffix != ".py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert not imported & TOOLS_ONLY_IMPORTS, path.name


def test_runtime_requirements_leave_out_boto3() -> None:
    """boto3 and botocore are provided by the Lambda runtime and not installed."""
    names = {packaging.canonical_name(r) for r in packaging.runtime_requirements()}
    assert "boto3" not in names
    assert "botocore" not in names
    assert "pyjwt" in names


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"arch": "arm"}, "architecture"), ({"python_version": "3.11"}, "Python")],
)
def test_bad_targets_are_refused_with_the_fix(kwargs: dict[str, str], message: str) -> None:
    """Unknown architectures and Python versions fail before pip runs."""
    target = {"arch": "arm64", "python_version": "3.12", **kwargs}
    with pytest.raises(packaging.PackagingError, match=message):
        build(Path("unused.zip"), arch=target["arch"], python_version=target["python_version"])


def test_default_output_names_architecture_and_python() -> None:
    """The default zip path is the one Terraform deploys for that architecture and Python."""
    assert packaging.default_output("x86_64", "3.13").name == "lambda-x86_64-py3.13.zip"


def test_the_zip_carries_exactly_the_locked_versions(
    builds: tuple[BuildResult, BuildResult],
) -> None:
    """`make package` installs the pins of platform/lambda-constraints.txt, nothing newer."""
    pins = read_lock(LOCK_FILE)
    shipped = {
        canonical_name(d.partition("==")[0]): d.partition("==")[2] for d in builds[0].distributions
    }
    assert shipped == pins


def test_a_dependency_missing_from_the_lock_fails_the_build(tmp_path: Path) -> None:
    """A lock that does not pin every installed distribution stops the build with the fix."""
    partial = tmp_path / "constraints.txt"
    pins = read_lock(LOCK_FILE)
    partial.write_text(f"pyjwt=={pins['pyjwt']}\n", encoding="utf-8")
    with pytest.raises(PackagingError, match=r"is not pinned in .*run make lock"):
        build(tmp_path / "lambda.zip", cache_dir=CACHE, constraints=partial)


def test_the_lock_round_trips_and_refuses_what_is_not_a_pin(tmp_path: Path) -> None:
    """write_lock writes name==version lines read_lock reads back; anything else names the line."""
    lock = tmp_path / "lock.txt"
    write_lock(["PyJWT==2.15.1", "cffi==2.1.1"], lock)
    assert read_lock(lock) == {"pyjwt": "2.15.1", "cffi": "2.1.1"}
    lock.write_text("pyjwt>=2\n", encoding="utf-8")
    with pytest.raises(PackagingError, match=r"lock.txt:1: 'pyjwt>=2' is not a name==version pin"):
        read_lock(lock)
