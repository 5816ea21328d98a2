"""HTML building blocks of the report: escaping, tables, embedded images, the page shell.

Every string that comes from data (configs, uids, claim texts, method names, file names) goes
through `esc`, so a claim such as "<script>alert(1)</script>" shows as text and never runs.
The page is self-contained: CSS inline, images as base64 `data:` URIs, no script, no external
URL. Its Content-Security-Policy says the same to the browser (no scripts, images only from
data: URIs), so even a missed escape could not run code or fetch anything.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: Larger images are left out (a report should open quickly and mail easily).
MAX_IMAGE_BYTES = 8 * 2**20

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       color: #1d2330; background: #f6f7f9; }
main { max-width: 1150px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 24px 0 8px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
.meta { color: #5b6475; }
.run { background: #fff; border: 1px solid #e1e4ea; border-radius: 8px; padding: 4px 20px 16px;
       margin: 20px 0; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { border: 1px solid #e1e4ea; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eef0f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.wide td { white-space: nowrap; }
.scroll { max-width: 100%; overflow-x: auto; }
.config td:first-child { font-family: ui-monospace, monospace; }
.claim { white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 12px;
         max-height: 14em; overflow-y: auto; max-width: 620px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
         font-weight: 600; color: #fff; }
.finished { background: #2e8b57; } .interrupted { background: #c98a00; }
.failed { background: #c0392b; }
img.plot { max-width: 100%; border: 1px solid #e1e4ea; background: #fff; margin: 6px 0; }
.note { color: #5b6475; font-style: italic; }
.grid { display: flex; flex-wrap: wrap; gap: 8px 32px; align-items: flex-start; margin-top: 16px; }
summary { cursor: pointer; margin: 12px 0 4px; }
"""

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def esc(value: Any) -> str:
    """Text for HTML: escapes <, >, &, and both quote characters (safe in attributes too)."""
    return html.escape("" if value is None else str(value), quote=True)


def fmt(value: Any, *, percent: bool = False) -> str:
    """A cell's text: numbers rounded, fractions optionally as percentages, None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if percent:
            return f"{100 * value:.1f}%"
        return f"{value:.4g}"
    return str(value)


def table(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    cls: str = "",
    raw_cells: bool = False,
) -> str:
    """An HTML table. Cells are escaped unless `raw_cells` (cells are then HTML built here)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for cell in row:
            numeric = isinstance(cell, int | float) and not isinstance(cell, bool)
            text = cell if raw_cells and isinstance(cell, str) else esc(fmt(cell))
            cells.append(f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    attr = f' class="{esc(cls)}"' if cls else ""
    return (
        f'<div class="scroll"><table{attr}><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def read_image(path: Path) -> bytes:
    """The bytes of a PNG file in a run, at most MAX_IMAGE_BYTES + 1 of them (`image` then says
    it is too large), and nothing from what is not a regular file: a run directory someone
    else wrote may hold a "plot" that is a link to an endless device such as /dev/zero."""
    if not path.is_file():  # follows links: a link to a device is no regular file
        return b""
    with path.open("rb") as fh:
        return fh.read(MAX_IMAGE_BYTES + 1)


def image(png: bytes | Path, alt: str) -> str:
    """An <img> with the PNG inline, or a note when the bytes are not a (small enough) PNG.
    A path is read with `read_image`."""
    if isinstance(png, Path):
        png = read_image(png)
    if not png.startswith(PNG_MAGIC):
        return note(f"{alt}: not a PNG image, left out")
    if len(png) > MAX_IMAGE_BYTES:
        return note(f"{alt}: {len(png) // 2**20} MB, too large to embed")
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="plot" alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def badge(status: str) -> str:
    return f'<span class="badge {esc(status)}">{esc(status)}</span>'


def page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


__all__ = ["badge", "esc", "fmt", "image", "note", "page", "table"]
