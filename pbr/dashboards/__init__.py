"""Dashboards: commissioner programme and contract dashboards, the equity view and the provider
dashboard. Figures come from a per-contract snapshot worked out in the background (models,
refresh), never from aggregating millions of claims and ledger lines per request
(docs/adr/0013-dashboard-snapshots.md, docs/dashboards.md)."""
