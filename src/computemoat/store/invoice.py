"""A per-tenant monthly invoice as a standalone HTML page (Jinja2, autoescaped): one line per model and
provider, token counts, cost at the prices in force when each request was recorded."""

from __future__ import annotations

from datetime import UTC, datetime

from computemoat.store.db import Database
from computemoat.store.usage import usage_by_model

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Invoice {{ tenant }} {{ month }}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}
td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:right}td:first-child,td:nth-child(2),
th:first-child,th:nth-child(2){text-align:left}tfoot td{font-weight:bold}
tfoot td:last-child{text-align:right}</style></head>
<body><h1>Invoice</h1>
<p>Tenant <strong>{{ tenant }}</strong> &middot; period {{ month }} (UTC) &middot; issued {{ issued }}</p>
<table><thead><tr><th>Model</th><th>Provider</th><th>Requests</th><th>Prompt tokens</th>
<th>Completion tokens</th><th>Cost (USD)</th></tr></thead><tbody>
{% for x in lines %}<tr><td>{{ x.model }}</td><td>{{ x.provider }}</td><td>{{ "{:,}".format(x.requests) }}</td>
<td>{{ "{:,}".format(x.prompt_tokens) }}</td><td>{{ "{:,}".format(x.completion_tokens) }}</td>
<td>{{ "%.2f"|format(x.cost_usd) }}</td></tr>
{% else %}<tr><td colspan="6">No usage in this period.</td></tr>{% endfor %}</tbody>
<tfoot><tr><td colspan="5">Total</td><td>{{ "%.2f"|format(total) }}</td></tr></tfoot></table>
</body></html>
"""


def render_invoice_html(db: Database, tenant_id: str, month: str) -> str:
    from jinja2 import Environment

    lines = usage_by_model(db, tenant_id, month)
    template = Environment(autoescape=True).from_string(_TEMPLATE)
    return template.render(
        tenant=tenant_id, month=month, lines=lines, total=round(sum(x.cost_usd for x in lines), 2),
        issued=datetime.now(UTC).strftime("%Y-%m-%d"),
    )
