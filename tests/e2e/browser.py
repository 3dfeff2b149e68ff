"""Headless Chromium driven by Selenium against a live server: the base of the admin's browser tests.

Every page a test saves with `shot` lands under artifacts/screenshots/ (git-ignored;
CI keeps it as a test artefact).
"""

import shutil
import tempfile
import unittest
from pathlib import Path

from django.contrib.staticfiles.testing import StaticLiveServerTestCase

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
)


class BrowserTestCase(StaticLiveServerTestCase):
    """One browser per test class, a fresh profile each, skipped with the reason where Chromium is missing."""

    databases = "__all__"

    @classmethod
    def setUpClass(cls) -> None:
        if not (CHROMIUM and CHROMEDRIVER):
            raise unittest.SkipTest(
                "needs Debian's chromium and chromium-driver (apt-get install chromium "
                "chromium-driver; .ci/run installs them)"
            )
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        super().setUpClass()
        cls.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={cls.profile}"):
            options.add_argument(flag)
        try:
            cls.browser = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        except Exception:
            super().tearDownClass()
            shutil.rmtree(cls.profile, ignore_errors=True)
            raise
        cls.browser.implicitly_wait(5)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.browser.quit()
        shutil.rmtree(cls.profile, ignore_errors=True)
        super().tearDownClass()

    def shot(self, name: str) -> None:
        self.browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))

    def open(self, path: str) -> None:
        self.browser.get(f"{self.live_server_url}{path}")

    def wait_for(self, condition: object, timeout: float = 30) -> None:
        """Wait for the page a click started: a click returns before the next page has loaded."""
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.browser, timeout).until(condition)

    def log_in(self, username: str, password: str) -> None:
        from selenium.webdriver.common.by import By

        self.open("/admin/login/?next=/admin/")
        self.browser.find_element(By.ID, "id_username").send_keys(username)
        self.browser.find_element(By.ID, "id_password").send_keys(password)
        self.browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        self.wait_for(lambda b: "Site administration" in b.title)
