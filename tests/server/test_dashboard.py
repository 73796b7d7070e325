"""The dashboard in a real headless Chromium (Debian ``chromium`` + ``chromium-driver``).

A real ``baseguard serve`` process serves a populated store; Selenium signs in through the
login form, opens every page, checks the data and the charts, and saves a screenshot of each
page under ``.ci-artifacts/screenshots/``. Without Chromium the tests skip, except in CI
(``$CI`` set), where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baseguard.store import open_store
from baseguard.store.tokens import create_token
from tests.server.test_api import IMAGES, SCAN_DAYS, digest, populate
from tests.server.test_push import CATALOG, free_port

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / ".ci-artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _browser_missing() -> str | None:
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        return (
            "needs Debian chromium and chromium-driver (apt-get install chromium chromium-driver)"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "needs selenium (the test extra)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _browser_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the dashboard tests: {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as ChromeService

    profile = tempfile.mkdtemp(prefix="bg-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=ChromeService(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("dashboard")
    db = f"sqlite:///{tmp / 'store.db'}"
    with open_store(db) as store:
        populate(store)
        token = create_token(store, "security-lead", "viewer", actor="test")
    port = free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "baseguard.cli.main", "serve"),
            *("--catalog", str(CATALOG), "--db", db, "--port", str(port)),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "BASEGUARD_VULNDB": str(tmp / "none.db")},
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "Application startup complete" in line:
            break
    else:
        pytest.fail("the server did not start:\n" + "".join(seen))
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stderr.close()


def shoot(driver: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(800, min(int(height) + 40, 4000)))
    driver.execute_script("window.scrollTo(0, 0)")
    assert driver.save_screenshot(str(SHOTS / f"{name}.png"))
    driver.set_window_size(1280, 1000)


@pytest.fixture(scope="module")
def signed_in(browser: Any, site: tuple[str, str]) -> tuple[Any, str]:
    from selenium.webdriver.common.by import By

    url, token = site
    browser.get(f"{url}/dashboard")
    assert browser.current_url.endswith("/dashboard/login")
    shoot(browser, "login")
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.ID, "sign-in").click()
    # The click returns before the form's POST and its redirect finish: wait (bounded) for
    # the browser to land somewhere other than the login page, then check where.
    _wait(browser, lambda d: not d.current_url.endswith("/dashboard/login"))
    assert browser.current_url == f"{url}/dashboard"
    return browser, url


def _wait(browser: Any, condition: Any, seconds: float = 30) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, seconds, poll_frequency=0.05).until(condition)


def test_a_wrong_token_does_not_sign_in(browser: Any, site: tuple[str, str]) -> None:
    from selenium.webdriver.common.by import By

    url, _ = site
    browser.delete_all_cookies()
    browser.get(f"{url}/dashboard/login")
    browser.find_element(By.ID, "token").send_keys("bgt_wrong")
    browser.find_element(By.ID, "sign-in").click()
    _wait(browser, lambda d: d.find_elements(By.CLASS_NAME, "error"))
    assert "unknown or revoked" in browser.find_element(By.CLASS_NAME, "error").text


def test_overview_shows_coverage_and_charts(signed_in: tuple[Any, str]) -> None:
    from selenium.webdriver.common.by import By

    driver, url = signed_in
    driver.get(f"{url}/dashboard")
    assert "security-lead (viewer)" in driver.find_element(By.TAG_NAME, "header").text
    # python:latest is the one image on an approved entry: 1 of 3.
    assert "33.3%" in driver.find_element(By.ID, "coverage").text
    chart = driver.find_element(By.ID, "severity-chart")
    series = chart.find_elements(By.CSS_SELECTOR, "g.series")
    assert [s.get_attribute("data-severity") for s in series] == [
        "critical",
        "high",
        "medium",
        "low",
    ]
    for s in series:
        assert len(s.find_elements(By.CSS_SELECTOR, "circle.point")) == len(SCAN_DAYS)
    bars = driver.find_elements(By.CSS_SELECTOR, "#top-images g.image-bar")
    assert len(bars) == len(IMAGES)
    # Sorted by total, most first: debian (15), node (7), python (1).
    assert [int(b.get_attribute("data-total")) for b in bars] == [15, 7, 1]
    assert driver.find_elements(By.CSS_SELECTOR, "#top-images rect.bar")
    shoot(driver, "overview")


def test_catalog_page_lists_lifecycle_and_sla(signed_in: tuple[Any, str]) -> None:
    from selenium.webdriver.common.by import By

    driver, url = signed_in
    driver.get(f"{url}/dashboard/catalog")
    rows = driver.find_elements(By.CSS_SELECTOR, "#catalog-table tbody tr")
    assert [r.get_attribute("data-entry") for r in rows] == ["node", "python"]
    python = rows[1].text
    assert "approved" in python and "critical 2d" in python
    assert "cgr.dev/chainguard/python:latest" in python
    assert "proposed" in rows[0].text
    shoot(driver, "catalog")


def test_image_page_shows_findings_and_packages(signed_in: tuple[Any, str]) -> None:
    from selenium.webdriver.common.by import By

    driver, url = signed_in
    driver.get(f"{url}/dashboard/images/{digest(2)}")
    assert driver.find_element(By.TAG_NAME, "h1").text == "docker.io/library/debian:12"
    findings = driver.find_elements(By.CSS_SELECTOR, "#findings-table tbody tr")
    assert len(findings) == 15
    packages = driver.find_elements(By.CSS_SELECTOR, "#packages-table tbody tr")
    assert len(packages) == 5
    verdict = driver.find_element(By.ID, "verdict").text
    assert "not-in-catalog" in verdict and "old-debian" in verdict  # its exception, named
    search = driver.find_element(By.CSS_SELECTOR, "input[data-filter=packages-table]")
    search.send_keys("pkg3")
    visible = [r for r in packages if r.is_displayed()]
    assert len(visible) == 1
    shoot(driver, "image")


def test_images_page_links_every_image(signed_in: tuple[Any, str]) -> None:
    from selenium.webdriver.common.by import By

    driver, url = signed_in
    driver.get(f"{url}/dashboard/images")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#images-table tbody tr")) == len(IMAGES)
    shoot(driver, "images")


def test_exceptions_page_orders_by_expiry(signed_in: tuple[Any, str]) -> None:
    from selenium.webdriver.common.by import By

    driver, url = signed_in
    driver.get(f"{url}/dashboard/exceptions")
    rows = driver.find_elements(By.CSS_SELECTOR, "#exceptions-table tbody tr")
    assert {r.get_attribute("data-exception") for r in rows} == {"old-debian", "gone-redis"}
    assert "expired" in driver.find_element(By.CSS_SELECTOR, "tr[data-exception=gone-redis]").text
    shoot(driver, "exceptions")


def test_compliance_page_renders_the_report(signed_in: tuple[Any, str]) -> None:
    from selenium.webdriver.common.by import By

    from baseguard.server.api import compliance_module

    driver, url = signed_in
    driver.get(f"{url}/dashboard/compliance")
    if compliance_module() is None:
        assert driver.find_element(By.ID, "compliance-missing").is_displayed()
    else:
        frame = driver.find_element(By.ID, "compliance-report")
        driver.switch_to.frame(frame)
        text = driver.find_element(By.TAG_NAME, "body").text
        driver.switch_to.default_content()
        assert "DORA" in text
    shoot(driver, "compliance")
