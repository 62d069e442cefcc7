"""The status page in a real headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by selenium): the overview and an SLO page load without a
console error (a Content-Security-Policy violation is one), the filters and the search box
hide and show rows as one types, and a screenshot of each page is written for review, into
the folder named by ``AGENT_SLO_SCREENSHOTS`` or the test's own temporary folder.

The page is served under ``/slo`` by the product's server, on the shared test site of
:mod:`statuspage_env` (the same known counts as :mod:`test_statuspage`).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from statuspage.app import StatusPage
from statuspage.server import make_server

if TYPE_CHECKING:  # imported by pytest as a plugin, before any import here
    from statuspage_env import Site

#: The site's fixture, registered once for every test file that names it here (a session
#: fixture in one module: one Prometheus for both files).
pytest_plugins = ["statuspage_env"]

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="Debian's chromium and chromium-driver are needed (scripts/setup installs them)",
)


@pytest.fixture(scope="module")
def served(site: Site) -> Iterator[str]:
    """The status page under /slo on a free loopback port: its root URL."""
    server = make_server(StatusPage(site.prom, site.catalog, base_path="/slo"), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/slo"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium (``--no-sandbox``: CI runs as root), its console log kept."""
    options = webdriver.ChromeOptions()
    assert CHROMIUM is not None and CHROMEDRIVER is not None
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: ``AGENT_SLO_SCREENSHOTS`` or this test's temporary folder."""
    folder = Path(os.environ.get("AGENT_SLO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _load(driver: webdriver.Chrome, url: str) -> None:
    """Open ``url`` and wait until the page and its script have run."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def _errors(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """The console's errors (SEVERE entries) since the page was opened."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _shown(driver: webdriver.Chrome) -> list[str]:
    """The SLOs whose overview rows are visible, in order."""
    return [
        row.get_attribute("data-slo") or ""
        for row in driver.find_elements(By.CSS_SELECTOR, "tr.slo-row")
        if row.is_displayed()
    ]


def test_the_overview_loads_clean_and_filters_as_one_types(
    served: str, browser: webdriver.Chrome, screenshots: Path
) -> None:
    """No console error; the search box, the team, tier and status filters hide rows at
    once, with the count kept; a screenshot of the overview is written."""
    _load(browser, f"{served}/")
    assert _errors(browser) == []
    assert _shown(browser) == ["triage-quality", "idle-success", "unloaded-success"]
    assert browser.save_screenshot(str(screenshots / "statuspage-overview.png"))
    search = browser.find_element(By.ID, "filter-q")
    search.send_keys("idle")
    assert _shown(browser) == ["idle-success"]
    assert browser.find_element(By.ID, "shown-count").text == "1 shown"
    assert browser.current_url.endswith("/slo/?q=idle")
    search.clear()
    search.send_keys("nothing like this")
    assert _shown(browser) == []
    assert browser.find_element(By.ID, "none-shown").is_displayed()
    search.clear()
    search.send_keys(" ")  # an input event with an empty search: every row again
    assert len(_shown(browser)) == 3
    Select(browser.find_element(By.ID, "filter-team")).select_by_value("ops")
    assert _shown(browser) == ["idle-success", "unloaded-success"]
    Select(browser.find_element(By.ID, "filter-tier")).select_by_value("high")
    assert _shown(browser) == ["unloaded-success"]
    Select(browser.find_element(By.ID, "filter-team")).select_by_value("")
    Select(browser.find_element(By.ID, "filter-tier")).select_by_value("")
    Select(browser.find_element(By.ID, "filter-status")).select_by_value("tighten")
    assert _shown(browser) == ["triage-quality"]
    assert _errors(browser) == []


def test_a_server_filtered_overview_can_be_widened_in_the_browser(
    served: str, browser: webdriver.Chrome
) -> None:
    """Opened with ?team=ops (as the form sends it without script), the other rows are
    there, hidden, and come back when the filter is cleared."""
    _load(browser, f"{served}/?team=ops")
    assert _shown(browser) == ["idle-success", "unloaded-success"]
    Select(browser.find_element(By.ID, "filter-team")).select_by_value("")
    assert _shown(browser) == ["triage-quality", "idle-success", "unloaded-success"]
    assert _errors(browser) == []


def test_an_slo_page_loads_clean_with_its_charts(
    served: str, browser: webdriver.Chrome, screenshots: Path
) -> None:
    """The SLO page of triage-quality: no console error, the charts drawn (the budget and
    one a tier), the figures shown; a screenshot of the whole page is written."""
    browser.find_element(By.TAG_NAME, "body")  # the session is up
    _load(browser, f"{served}/")
    browser.find_element(By.LINK_TEXT, "triage-quality").click()
    WebDriverWait(browser, 10).until(lambda d: d.current_url.endswith("/slo/slo/triage-quality"))
    assert _errors(browser) == []
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert len(charts) == 5
    assert all(c.size["width"] > 300 for c in charts)  # drawn, not collapsed
    assert browser.find_element(By.CSS_SELECTOR, '[data-field="runs"]').text == "43"
    assert browser.find_element(By.ID, "status").text == "TIGHTEN"
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1400, min(int(height) + 100, 8000))
    assert browser.save_screenshot(str(screenshots / "statuspage-slo.png"))
    browser.set_window_size(1400, 1000)
    browser.find_element(By.NAME, "canary").send_keys('task="a"')
    browser.find_element(By.NAME, "min_runs").clear()
    browser.find_element(By.NAME, "min_runs").send_keys("10")
    browser.find_element(By.CSS_SELECTOR, "#canary button").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "canary-verdict"))
    assert browser.find_element(By.CSS_SELECTOR, "#canary-verdict .verdict").text == "deny"
    assert _errors(browser) == []
