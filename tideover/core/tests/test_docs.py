"""The repository stands alone: its README and docs link only files it contains."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_readme_and_docs_link_only_files_inside_the_repository():
    broken = []
    for doc in DOCS:
        for target in LINK.findall(doc.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # a URL, not a file
            path = (doc.parent / target).resolve()
            if not path.is_relative_to(ROOT) or not path.exists():
                broken.append(f"{doc.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_no_doc_mentions_a_design_file_outside_the_repository():
    mentions = [
        d.name for d in DOCS if "../shared" in d.read_text() or "DESIGN.md" in d.read_text()
    ]
    assert mentions == []


def test_readme_leads_to_the_product_overview():
    overview = (ROOT / "docs" / "overview.md").read_text()
    assert "docs/overview.md" in (ROOT / "README.md").read_text()
    for part in ("## Who uses it", "## The capabilities", "## The outage story"):
        assert part in overview
