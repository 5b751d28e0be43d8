"""Build test distributions with zipfile and tarfile only: no network, no setuptools.

Wheels follow the binary distribution format (METADATA, WHEEL, RECORD with sha256); sdists
carry PKG-INFO and a pyproject.toml naming a PEP 517 backend.  The backend is this module's own
tiny implementation (``BACKEND_SOURCE``), used in-tree by impostor sdists and packaged as a
wheel for the "backend" distributions.  An impostor's backend appends to a marker file (an
absolute path baked in at build time) whenever one of its hooks runs: that proves it ran.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def module_name(name: str) -> str:
    return normalize(name).replace("-", "_")


def metadata_text(
    name: str,
    version: str,
    requires: Sequence[str] = (),
    extras: Mapping[str, Sequence[str]] | None = None,
    *,
    metadata_version: str = "2.1",
    requires_python: str | None = None,
    dynamic: Sequence[str] = (),
) -> str:
    lines = [f"Metadata-Version: {metadata_version}", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    for field in dynamic:
        lines.append(f"Dynamic: {field}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    for extra, reqs in (extras or {}).items():
        lines.append(f"Provides-Extra: {extra}")
        for r in reqs:
            joiner = " and " if ";" in r else "; "
            if ";" in r:
                base, marker = r.split(";", 1)
                lines.append(
                    f'Requires-Dist: {base.strip()}; ({marker.strip()}) and extra == "{extra}"'
                )
            else:
                lines.append(f'Requires-Dist: {r}{joiner}extra == "{extra}"')
    return "\n".join(lines) + "\n"


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def write_wheel(
    dest_dir: Path,
    name: str,
    version: str,
    files: Mapping[str, bytes | str],
    metadata: str,
    tag: str = "py3-none-any",
) -> Path:
    """A wheel (tag ``tag``) of ``files`` plus a dist-info with ``metadata``."""
    dist = f"{module_name(name)}-{version}"
    contents: dict[str, bytes] = {}
    for path, data in files.items():
        contents[path] = data.encode() if isinstance(data, str) else data
    contents[f"{dist}.dist-info/METADATA"] = metadata.encode()
    contents[f"{dist}.dist-info/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: spip-tests\nRoot-Is-Purelib: true\nTag: {tag}\n"
    ).encode()
    record = [f"{p},{_record_hash(d)},{len(d)}" for p, d in contents.items()]
    record.append(f"{dist}.dist-info/RECORD,,")
    contents[f"{dist}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / f"{dist}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in contents.items():
            info = zipfile.ZipInfo(member, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return path


def build_wheel(
    dest_dir: Path,
    name: str,
    version: str,
    *,
    requires: Sequence[str] = (),
    extras: Mapping[str, Sequence[str]] | None = None,
    requires_python: str | None = None,
    pth_marker: Path | None = None,
    modules: Mapping[str, str] | None = None,
    tag: str = "py3-none-any",
) -> Path:
    """A plain wheel; ``pth_marker``: a .pth that writes the marker when Python starts."""
    files: dict[str, bytes | str] = {
        f"{module_name(name)}/__init__.py": f"VERSION = {version!r}\n",
    }
    files.update(modules or {})
    if pth_marker is not None:
        files[f"{module_name(name)}_marker.pth"] = (
            f"import pathlib; pathlib.Path({str(pth_marker)!r}).write_text('installed')\n"
        )
    return write_wheel(
        dest_dir,
        name,
        version,
        files,
        metadata_text(name, version, requires, extras, requires_python=requires_python),
        tag,
    )


# The PEP 517 backend used by test sdists (in-tree) and by "backend" wheels.  MARKER is
# substituted at build time: None for honest backends, an absolute path for impostors.
BACKEND_SOURCE = r'''
"""A tiny PEP 517 backend for spip's tests: builds a wheel from PKG-INFO."""
import base64, hashlib, os, pathlib, re, tarfile, zipfile

MARKER = __MARKER__


def _mark(hook):
    if MARKER:
        path = pathlib.Path(MARKER)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            handle.write(hook + "\n")


def _info():
    text = pathlib.Path("PKG-INFO").read_text()
    name = re.search(r"^Name: (.+)$", text, re.M).group(1).strip()
    version = re.search(r"^Version: (.+)$", text, re.M).group(1).strip()
    return name, version, text


def _dist(name, version):
    return re.sub(r"[-_.]+", "_", name).lower() + "-" + version


def _hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _metadata(text):
    return "\n".join(l for l in text.splitlines() if not l.startswith("Dynamic:")) + "\n"


def _write(wheel_directory, files):
    name, version, text = _info()
    dist = _dist(name, version)
    files = dict(files)
    files[dist + ".dist-info/METADATA"] = _metadata(text).replace(
        "Metadata-Version: 2.2", "Metadata-Version: 2.1").encode()
    files[dist + ".dist-info/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: spip-test-backend\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n")
    record = [p + "," + _hash(d) + "," + str(len(d)) for p, d in files.items()]
    record.append(dist + ".dist-info/RECORD,,")
    files[dist + ".dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    filename = dist + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return filename


def _module():
    name, version, _ = _info()
    return re.sub(r"[-_.]+", "_", name).lower(), version


def get_requires_for_build_wheel(config_settings=None):
    _mark("get_requires_for_build_wheel")
    return []


def get_requires_for_build_editable(config_settings=None):
    _mark("get_requires_for_build_editable")
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _mark("prepare_metadata_for_build_wheel")
    name, version, text = _info()
    target = pathlib.Path(metadata_directory) / (_dist(name, version) + ".dist-info")
    target.mkdir(parents=True, exist_ok=True)
    (target / "METADATA").write_text(_metadata(text))
    return target.name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _mark("build_wheel")
    module, version = _module()
    return _write(wheel_directory, {module + "/__init__.py": ("VERSION = %r\n" % version).encode()})


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    _mark("build_editable")
    module, _version = _module()
    return _write(wheel_directory, {"_editable_" + module + ".pth": (os.getcwd() + "\n").encode()})


def build_sdist(sdist_directory, config_settings=None):
    name, version, _ = _info()
    base = _dist(name, version)
    path = os.path.join(sdist_directory, base + ".tar.gz")
    with tarfile.open(path, "w:gz") as archive:
        archive.add(".", arcname=base)
    return base + ".tar.gz"
'''


def backend_source(marker: Path | None) -> str:
    return BACKEND_SOURCE.replace("__MARKER__", repr(str(marker)) if marker else "None")


def build_backend_wheel(
    dest_dir: Path, name: str, version: str, marker: Path | None = None
) -> Path:
    """A wheel whose module (named after the distribution) is a PEP 517 backend."""
    files = {f"{module_name(name)}/__init__.py": backend_source(marker)}
    if marker is not None:
        # An impostor also makes itself felt at import time (as real attacks do).
        files[f"{module_name(name)}/__init__.py"] += "\n_mark('import')\n"
    return write_wheel(dest_dir, name, version, files, metadata_text(name, version))


def _tar_add(archive: tarfile.TarFile, path: str, data: str) -> None:
    raw = data.encode()
    info = tarfile.TarInfo(path)
    info.size = len(raw)
    info.mtime = 1704067200
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(raw))


def build_sdist(
    dest_dir: Path,
    name: str,
    version: str,
    *,
    requires: Sequence[str] = (),
    build_requires: Sequence[str] = (),
    backend: str | None = None,
    in_tree_backend_marker: Path | None = None,
    static_metadata: bool = True,
    extras: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """An sdist; with no ``backend`` it carries the in-tree test backend."""
    base = f"{module_name(name)}-{version}"
    pkg_info = metadata_text(
        name,
        version,
        requires,
        extras,
        metadata_version="2.2" if static_metadata else "2.1",
    )
    if backend is None:
        pyproject = (
            "[build-system]\n"
            f"requires = {list(build_requires)!r}\n"
            'build-backend = "_spip_test_backend"\n'
            'backend-path = ["_backend"]\n'
        )
    else:
        pyproject = (
            f"[build-system]\nrequires = {list(build_requires)!r}\nbuild-backend = {backend!r}\n"
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        _tar_add(archive, f"{base}/PKG-INFO", pkg_info)
        _tar_add(archive, f"{base}/pyproject.toml", pyproject.replace("'", '"'))
        if backend is None:
            _tar_add(
                archive,
                f"{base}/_backend/_spip_test_backend.py",
                backend_source(in_tree_backend_marker),
            )
    return path


def write_local_project(
    directory: Path,
    name: str,
    version: str,
    *,
    requires: Sequence[str] = (),
    build_requires: Sequence[str] = (),
    backend: str | None = None,
) -> Path:
    """A local project directory (for -e and path installs), built by the test backend."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "PKG-INFO").write_text(metadata_text(name, version, requires))
    module = directory / module_name(name)
    module.mkdir(exist_ok=True)
    (module / "__init__.py").write_text(f"VERSION = {version!r}\n")
    if backend is None:
        (directory / "_backend").mkdir(exist_ok=True)
        (directory / "_backend" / "_spip_test_backend.py").write_text(backend_source(None))
        pyproject = (
            "[build-system]\n"
            f"requires = {list(build_requires)!r}\n"
            'build-backend = "_spip_test_backend"\nbackend-path = ["_backend"]\n'
        )
    else:
        pyproject = (
            f"[build-system]\nrequires = {list(build_requires)!r}\nbuild-backend = {backend!r}\n"
        )
    (directory / "pyproject.toml").write_text(pyproject.replace("'", '"'))
    return directory


def distribution_metadata(path: Path) -> dict[str, str]:
    """Name, Version and (when declared) Requires-Python of a built wheel or sdist.

    Read from the archive itself (a wheel's ``*.dist-info/METADATA``, an sdist's top-level
    ``PKG-INFO``), so servers that want the metadata on upload get the declared values.
    """
    if path.name.endswith(".whl"):
        with zipfile.ZipFile(path) as archive:
            member = next(
                n for n in archive.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)
            )
            text = archive.read(member).decode("utf-8")
    elif path.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(path, "r:gz") as archive:
            info = next(m for m in archive.getmembers() if re.fullmatch(r"[^/]+/PKG-INFO", m.name))
            extracted = archive.extractfile(info)
            assert extracted is not None
            text = extracted.read().decode("utf-8")
    else:
        raise ValueError(f"not a wheel or a gzipped sdist: {path.name}")
    fields = {}
    for key in ("Name", "Version", "Requires-Python"):
        match = re.search(rf"^{key}: (.+)$", text, re.M)
        if match:
            fields[key] = match.group(1).strip()
    return fields
