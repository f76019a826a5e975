"""One Markdown source, two renderings: the HTML page has the same tables, its figures inside, and no live markup."""

from __future__ import annotations

import pandas as pd

from landmark_core.markdown import markdown_html, markdown_table


def test_the_page_renders_the_tables_embeds_the_figures_and_escapes_markup():
    table = pd.DataFrame({"full": [4.6812, float("nan")]}, index=pd.Index(["a", "<b onmouseover=x()>"], name="row"))
    source = "\n".join(["# Report", "", *markdown_table(table), "", "![ced](figures/ced.png)", "<script>x()</script>"])
    page = markdown_html(markdown=source, title="<t>", images={"figures/ced.png": "data:image/png;base64,AAAA"})
    assert "<h1>Report</h1>" in page and "<td>4.681</td>" in page and "<th>full</th>" in page
    assert '<img src="data:image/png;base64,AAAA" alt="ced"' in page and "figures/ced.png" not in page
    assert "<script>" not in page and "&lt;script&gt;" in page and "<b onmouseover" not in page
    assert "<title>&lt;t&gt;</title>" in page


def test_figures_go_into_the_page_as_markdown_it_would_put_them_and_other_data_uris_are_refused():
    import base64

    from landmark_core.markdown import embed_images, markdown_parser

    tiny_png_uri = "data:image/png;base64," + base64.b64encode(bytes(range(256)) * 100 + b"x").decode()
    images = {"figures/a.png": tiny_png_uri, "figures/b.png": tiny_png_uri, "x.html": "data:text/html;base64,PGI+"}
    source = "![a](figures/a.png) ![b](figures/b.png)\n\n[link](figures/a.png) ![h](x.html) eltrepro-image-0"
    page = markdown_html(markdown=source, title="t", images=images)
    slow = markdown_parser().render(embed_images(source, images))
    assert f"<body>\n{slow}</body>" in page  # the same bytes as markdown-it's own link normalisation gives
    assert page.count(f'src="{tiny_png_uri}"') == 2 and f'href="{tiny_png_uri}"' in page
    assert "data:text/html" not in page.split("<body>")[1].split("![h]")[0]  # refused: left as text, not a link
    assert "eltrepro-image-0</p>" in page  # a placeholder's name in the text is text
