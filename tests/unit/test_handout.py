"""``netlab handout``: the HTML page of a catalog lab (its tables read back with an HTML parser, the inline SVG,
escaping), the Markdown page, and -- where Chromium is installed -- the page as a browser loads it."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from netlab import requirements
from netlab.api import Lab
from netlab.cli.main import main
from netlab.kernel.tools import which
from netlab.views import diagram, graph, handout

needs_dot = pytest.mark.skipif(which("dot") is None, reason="Graphviz is not installed (apt-get install -y graphviz)")


class Tables(HTMLParser):
    """Every table of a page by id: rows of cell texts. Also counts ``<svg>`` elements and keeps ``<pre>``."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.svgs = 0
        self.pre: dict[str, str] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._pre: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" / ")
        elif tag == "svg":
            self.svgs += 1
        elif tag == "pre":
            self._pre = dict(attrs).get("id") or ""
            self.pre[self._pre] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None
        elif tag == "pre":
            self._pre = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._pre is not None:
            self.pre[self._pre] += data


def page(lab: str, kind: str = "html") -> str:
    loaded = Lab.load(lab)
    d = diagram.build(loaded.resolved)
    svg = graph.svg_inline(graph.render(graph.dot(d), "svg")) if kind == "html" else None
    needs = [r.feature for r in requirements.derive(loaded.topology)]
    return handout.render(handout.context(loaded.resolved, d, lab, svg, graph.mermaid(d), needs), kind)


def parsed(text: str) -> Tables:
    tables = Tables()
    tables.feed(text)
    return tables


@needs_dot
def test_the_html_page_has_the_addressing_table_of_every_interface() -> None:
    tables = parsed(page("dr-mode")).tables
    rows = tables["addressing"]
    assert rows[0] == ["node", "interface", "addresses", "peer"]
    assert ["client", "eth0", "10.0.1.10/24", "router:eth0"] in rows
    assert ["director / IPVS director", "eth0", "10.0.10.2/24", "LAN servers (router, rs1, rs2)"] in rows
    assert ["", "eth1", "10.0.10.1/24", "LAN servers (director, rs1, rs2)"] in rows  # router's second interface
    assert len(rows) == 1 + 6


@needs_dot
def test_the_html_page_has_the_probes_with_what_each_expects() -> None:
    rows = parsed(page("dr-mode")).tables["probes"]
    assert rows[0] == ["probe", "kind", "what it expects"]
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["web"][1] == "http"
    assert by_name["web"][2].startswith("GET / from client to 10.0.10.100:80 answers 200, served by rs1 or rs2")
    assert "exactly 0 packets matching 'tcp src port 80' on director:eth0" in by_name["no-reply-via-director"][2]
    assert by_name["arp-only-director"][2].startswith("who-has 10.0.10.100 from router: answered by director")


@needs_dot
def test_the_html_page_inlines_the_svg_diagram_and_the_commands() -> None:
    text = page("dr-mode")
    tables = parsed(text)
    assert tables.svgs == 1
    assert "<?xml" not in text and "<!DOCTYPE svg" not in text
    assert tables.pre["commands"].split("\n")[1:4] == ["netlab up dr-mode", "netlab probe dr-mode",
                                                       "netlab graph dr-mode --path -o dr-mode-path.svg"]
    assert "netlab vm run dr-mode" in text  # IPVS: the page says how to run it where the kernel lacks it
    assert "What to observe" in text and "Frames from the director to rs1" in text


@needs_dot
def test_the_html_page_escapes_text_from_the_lab_file(tmp_path: Path) -> None:
    source = (Path(__file__).resolve().parents[2] / "topologies" / "routed.yml").read_text()
    evil = source.replace("description: host on 10.0.1.0/24, default route via the router",
                          'description: "<script>alert(1)</script> & co"', 1)
    assert evil != source
    (tmp_path / "routed.yml").write_text(evil)
    lab = Lab.load(tmp_path / "routed.yml")
    d = diagram.build(lab.resolved)
    text = handout.render(handout.context(lab.resolved, d, "routed.yml", None, graph.mermaid(d)), "html")
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in text


def test_the_markdown_page_has_a_mermaid_diagram_and_tables() -> None:
    text = page("gre-tunnel", "md")
    assert "```mermaid\nflowchart LR\n" in text
    assert "| **r1** *GRE end* | `eth0` | 10.1.0.1/24, fd00:1::1/64 | h1:eth0 |" in text
    assert "| `gre-on-underlay` | capture |" in text


def test_a_markdown_cell_stays_one_cell() -> None:
    assert handout.md_cell("a | b\nc <d>") == "a \\| b c &lt;d&gt;"


@needs_dot
def test_handout_writes_both_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["handout", "routed", "--html", str(tmp_path), "--md", str(tmp_path / "md")]) == 0
    assert (tmp_path / "routed.html").read_text().count("<svg") == 1
    assert (tmp_path / "md" / "routed.md").read_text().startswith("# Lab `routed`")


def test_handout_without_a_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["handout", "routed"]) == 2
    assert "--html DIR" in capsys.readouterr().err


CHROMIUM = next((p for p in (which("chromium"), which("chromium-browser"), which("google-chrome")) if p), None)


@needs_dot
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (apt-get install -y chromium)")
def test_the_html_page_loads_in_a_real_browser_with_its_diagram(tmp_path: Path) -> None:
    """Chromium's own parse of the page (its DOM after loading) still has the tables and the SVG, and a
    screenshot of it is not empty: the page is what a browser shows, not only what a parser accepts."""
    assert CHROMIUM is not None
    html = tmp_path / "dr-mode.html"
    html.write_text(page("dr-mode"))
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120,
                         check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    tables = parsed(dom.stdout)
    assert tables.svgs == 1 and set(tables.tables) == {"addressing", "nodes", "probes"}
    shot = tmp_path / "dr-mode.png"
    subprocess.run([*flags, "--window-size=1200,1600", f"--screenshot={shot}", html.as_uri()], capture_output=True,
                   timeout=120, check=False)
    assert shot.exists() and shot.stat().st_size > 20_000
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def test_the_handout_says_which_probe_proves_each_claim(tmp_path: Path) -> None:
    from netlab.api import Lab
    from netlab.views import diagram, handout

    lab = Lab.load("netfilter-tracking")
    ctx = handout.context(lab.resolved, diagram.build(lab.resolved), "netfilter-tracking",
                          claims=lab.topology.claims)
    page = handout.render(ctx, "md")
    assert "## What the probes prove" in page
    assert "| security FORWARD never sees it | `security-after-filter` |" in page
    html = handout.render(ctx, "html")
    assert '<table id="claims">' in html and "<td class=\"mono\">to-port-9, filter-drops-9</td>" in html
