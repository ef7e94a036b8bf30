"""The output crawlers, run by the job only when the catalog may not match what it wrote.

A crawler's work is the catalog's schema. An incremental run writes parts with the schema the
table already had (its manifest's fingerprint covers schema, plan, key column, bucket count and
token key; any change rebuilds the table), under the same flat prefix (no partitions), so once
the masked and encrypted tables exist a crawl finds nothing to change, and on AWS a crawl takes
a minute or more. So the workflow no longer crawls the outputs after every run: the job starts
the output crawlers, and waits for them, when a table was rebuilt or an output table is not in
the catalog yet. A crawl that fails fails the job (the run then reports it, as before).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

#: seconds the job waits for the output crawls at most (a crawl of the outputs takes minutes on AWS)
CRAWL_TIMEOUT = 30 * 60.0


class CrawlFailed(RuntimeError):
    """An output crawler did not finish SUCCEEDED (or did not finish in time)."""


def crawl_reason(tables: Sequence[Any]) -> str | None:
    """Why the outputs need a crawl (None: every table updated in place with catalog tables present).

    ``tables``: the run's TableReports (``mode`` full/incremental/unchanged, ``catalog_missing``).
    """
    for table in tables:
        if table.mode == "full":
            return f"table {table.table} was rebuilt (its output schema may have changed)"
        if table.catalog_missing:
            return f"no catalog table {', '.join(table.catalog_missing)} yet"
    return None


def run_crawlers(
    glue: Any,
    crawlers: Sequence[str],
    *,
    timeout: float = CRAWL_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Start each crawler (after a crawl already running ends: that one may predate this run's
    files) and wait until all are READY again; CrawlFailed unless each last crawl SUCCEEDED."""
    begun = time.monotonic()
    deadline = begun + timeout
    pending = list(crawlers)
    started: list[str] = []
    while pending or started:
        for name in list(pending):
            try:
                glue.start_crawler(Name=name)
            except glue.exceptions.CrawlerRunningException:
                continue  # another crawl of it is under way: start ours once it has ended
            pending.remove(name)
            started.append(name)
        for name in list(started):
            crawler = glue.get_crawler(Name=name)["Crawler"]
            if crawler.get("State") != "READY":
                continue
            last = crawler.get("LastCrawl") or {}
            if last.get("Status") != "SUCCEEDED":
                raise CrawlFailed(
                    f"crawler {name} ended {last.get('Status')}: {last.get('ErrorMessage') or ''}".strip()
                )
            started.remove(name)
        if not (pending or started):
            return
        if time.monotonic() > deadline:
            raise CrawlFailed(f"crawler(s) {', '.join(pending + started)} did not finish in {timeout:.0f} s")
        # each look at most 10% of the time waited late (at least 0.25 s, at most 10 s apart)
        sleep(min(10.0, max(0.25, 0.1 * (time.monotonic() - begun))))
