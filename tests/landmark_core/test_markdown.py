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
