"""A static PEP 503 index: files any web server can serve (``start_static_server`` does).

``write_static_index`` lays out::

    OUT/files/<filename>                    the distributions, copied
    OUT/simple/index.html                   one link per project
    OUT/simple/<normalized-name>/index.html one link per file: ../../files/<filename>

http.server answers ``/simple/<name>/`` with that directory's index.html (and redirects
``/simple/<name>`` there), which is what a PEP 503 client asks for.  Links are relative and
carry ``#sha256=`` fragments unless ``hashes=False``; a file whose metadata declares
Requires-Python gets ``data-requires-python`` (HTML-escaped).  With ``json=True`` the PEP 691
JSON form of each page is written beside it as ``index.json``: a static server cannot
negotiate content types, so pip will read the HTML; the JSON is there for servers or tests
that serve it deliberately.
"""

from __future__ import annotations

import hashlib
import html
import json as jsonlib
import shutil
from pathlib import Path

from tests.support.packages import distribution_metadata, normalize


def write_static_index(
    packages_dir: Path, out_dir: Path, *, hashes: bool = True, json: bool = False
) -> Path:
    """Write the index of every wheel and sdist in ``packages_dir``; return ``OUT/simple``."""
    files_dir, simple = out_dir / "files", out_dir / "simple"
    files_dir.mkdir(parents=True, exist_ok=True)
    simple.mkdir(parents=True, exist_ok=True)
    projects: dict[str, list[dict[str, object]]] = {}
    for path in sorted(packages_dir.iterdir()):
        if not path.name.endswith((".whl", ".tar.gz")):
            continue
        metadata = distribution_metadata(path)
        shutil.copyfile(path, files_dir / path.name)
        entry: dict[str, object] = {
            "filename": path.name,
            "url": f"../../files/{path.name}",
            "hashes": {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()} if hashes else {},
        }
        if "Requires-Python" in metadata:
            entry["requires-python"] = metadata["Requires-Python"]
        projects.setdefault(normalize(metadata["Name"]), []).append(entry)
    names = sorted(projects)
    links = "".join(f'<a href="{name}/">{name}</a><br>\n' for name in names)
    (simple / "index.html").write_text(_page("Simple index", links), encoding="utf-8")
    if json:
        root = {"meta": {"api-version": "1.0"}, "projects": [{"name": n} for n in names]}
        (simple / "index.json").write_text(jsonlib.dumps(root), encoding="utf-8")
    for name, entries in projects.items():
        page = simple / name
        page.mkdir(exist_ok=True)
        anchors = []
        for entry in entries:
            href = str(entry["url"])
            digests = entry["hashes"]
            assert isinstance(digests, dict)
            if "sha256" in digests:
                href += f"#sha256={digests['sha256']}"
            attributes = f'href="{html.escape(href)}"'
            if "requires-python" in entry:
                escaped = html.escape(str(entry["requires-python"]))
                attributes += f' data-requires-python="{escaped}"'
            anchors.append(f"<a {attributes}>{html.escape(str(entry['filename']))}</a><br>\n")
        body = _page(f"Links for {name}", "".join(anchors))
        (page / "index.html").write_text(body, encoding="utf-8")
        if json:
            document = {"meta": {"api-version": "1.0"}, "name": name, "files": entries}
            (page / "index.json").write_text(jsonlib.dumps(document), encoding="utf-8")
    return simple


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f"<title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n{body}</body>\n</html>\n"
    )
