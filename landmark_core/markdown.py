"""Markdown: GitHub-flavoured tables from data frames, and a Markdown document rendered as one HTML page."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

# A data URI that markdown-it's link check accepts and its link normalisation leaves as it is (every base64
# character is one it keeps), so it can go into the rendered page directly: markdown-it reads a link's destination
# and normalises it character by character in Python, seconds on a report's megabytes of figures (skipping the
# normalisation alone still left 1.5 s of the 2 on seven 400 KB figures, so a placeholder is rendered instead).
_PLAIN_IMAGE_URI = re.compile(r"data:image/(?:gif|png|jpeg|webp);base64,[A-Za-z0-9+/]*={0,2}")


def _cell(value: object, na_rep: str) -> str:
    if pd.isna(value):
        return na_rep
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def markdown_table(table: pd.DataFrame, *, header: list[str] | None = None, na_rep: str = "") -> list[str]:
    """The lines of a Markdown table: the index as the first column, floats to 3 decimals, others as text.

    Args:
        table: the frame to render.
        header: column titles including the index's (default: the index name, then the column names).
        na_rep: text of a missing value.
    """
    header = header or [str(table.index.name or ""), *map(str, table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, values in table.iterrows():
        lines.append("| " + " | ".join([str(name), *(_cell(v, na_rep) for v in values)]) + " |")
    return lines


def markdown_parser() -> MarkdownIt:
    """The parser every page is rendered with: CommonMark plus tables, raw HTML escaped rather than passed."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table")


def markdown_html(*, markdown: str, title: str, images: dict[str, str] | None = None) -> str:
    """A whole HTML page rendering ``markdown`` (CommonMark plus tables); raw HTML in it is escaped, not run.

    Args:
        markdown: the document.
        title: the page title (escaped).
        images: image source as written in the Markdown (``figures/ced.png``) -> what the page uses instead
            (a ``data:image/png;base64,...`` URI, so the page carries its figures).

    Returns:
        The page.
    """
    images = images or {}
    plain = [source for source, uri in images.items() if _PLAIN_IMAGE_URI.fullmatch(uri)]
    placeholder = {source: f"eltrepro-image-{i}" for i, source in enumerate(plain)}
    markdown = embed_images(markdown, {source: placeholder.get(source, uri) for source, uri in images.items()})
    body = markdown_parser().render(markdown)
    for source, name in placeholder.items():  # an attribute value only: a quote in the text is escaped
        body = body.replace(f'="{name}"', f'="{images[source]}"')
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>\n"
        f"<body>\n{body}</body></html>\n"
    )


def embed_images(markdown: str, images: dict[str, str]) -> str:
    """``markdown`` with each image source ``![..](source)`` of ``images`` replaced by its value (a data URI)."""
    for source, replacement in images.items():
        markdown = markdown.replace(f"]({source})", f"]({replacement})")
    return markdown


PAGE_STYLE = (
    "body{font-family:sans-serif;max-width:80em;margin:auto;padding:1em}"
    "table{border-collapse:collapse;font-size:0.85em}td,th{border:1px solid #ccc;padding:2px 6px}"
    "img{max-width:100%}"
)
