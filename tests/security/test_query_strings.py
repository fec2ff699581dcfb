"""Hostile numbers in query strings never reach the database driver (issue #13).

``?year=``, ``?client=``, ``?page=`` and ``?batch=`` with integers beyond PostgreSQL's
INTEGER/BIGINT or SQLite's 64-bit range were 500s on both databases. Every GET route of the
URL map is requested by the actors who reach the most of it, with every numeric query
parameter the views read set to each hostile value: none may answer 500, and a filter past
its range reads as no filter.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.security.conftest import classify, login_client
from tests.security.test_access_matrix import build_url, params_for, routes

#: every integer query parameter a view reads (grep ``query_int`` in workbench/)
NUMERIC_ARGS = ("year", "client", "page", "batch")
HOSTILE = ("99999999999999999999", "-9223372036854775809", "2147483648", "-1", "0")


@pytest.mark.parametrize("value", HOSTILE)
def test_no_get_route_fails_on_an_out_of_range_integer(app, world, fast_render, value):
    query = urlencode(dict.fromkeys(NUMERIC_ARGS, value))
    failures = []
    for actor in ("lead", "client", "respondent"):
        client = login_client(app, world, actor)
        for key, method, rule in routes(app):
            if method != "GET":
                continue
            url = build_url(rule, params_for(rule.endpoint, world), actor, world)
            url += ("&" if "?" in url else "?") + query
            response = client.get(url)
            if classify(response) == "500":
                failures.append(f"{key} as {actor}: {url}")
    assert not failures, "\n".join(failures)


def test_an_out_of_range_year_lists_every_engagement(app, world):
    client = login_client(app, world, "lead")
    plain = client.get("/engagements/").get_data(as_text=True)
    huge = client.get("/engagements/?year=99999999999999999999&page=99999999999999999999")
    assert huge.status_code == 200
    assert plain.count("<tr") == huge.get_data(as_text=True).count("<tr")
