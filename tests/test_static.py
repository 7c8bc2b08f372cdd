"""Static files: a URL that names its file's current hash is cached for a year
without revalidation; any other static URL is checked again every time."""
import re

import pytest


def stylesheet_url(client):
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'href="(/static/css/app\.css\?v=[0-9a-f]+)"', html).group(1)


def test_a_hashed_static_url_is_cached_for_a_year_and_never_revalidated(client):
    response = client.get(stylesheet_url(client))

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_a_conditional_request_for_a_hashed_url_keeps_it_immutable(client):
    url = stylesheet_url(client)
    etag = client.get(url).headers["ETag"]

    again = client.get(url, headers={"If-None-Match": etag})

    assert again.status_code == 304
    assert again.headers["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("query", ["", "?v=", "?v=0123456789ab", "?v=%7B%7D", "?v=" + "9" * 5000])
def test_a_static_url_without_its_current_hash_is_revalidated(client, query):
    response = client.get("/static/css/app.css" + query)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("path", ["/static/css/nothing.css", "/static/../app/config.py",
                                  "/static/%2e%2e/app/config.py"])
def test_a_missing_static_file_is_404_and_not_cached_for_ever(client, path):
    response = client.get(path + "?v=abc")

    assert response.status_code == 404
    assert "immutable" not in response.headers.get("Cache-Control", "")
