"""A real browser for end-to-end tests: Debian's headless Chromium driven by selenium through
Debian's ChromeDriver (`bin/lib.sh ensure_chromium` installs both), with a screenshot of every page
it is asked to keep."""

import shutil
import tempfile
from base64 import b64decode
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "var" / "node" / "node_modules" / "axe-core" / "axe.min.js"  # bin/lib.sh ensure_axe
AXE_TIMEOUT = 60  # seconds for one page's checks
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WIDTH, HEIGHT = 1280, 900
# Headless as root in a container; no calls home: this machine's network is closed, and a test needs none.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
PAGE_TIMEOUT = 20


def installed() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


class Browser:
    """One person's browser window: its own profile, so its own cookies and sign-ins."""

    def __init__(self, driver: webdriver.Chrome, name: str, screenshots: Path, width: int = WIDTH):
        self.driver, self.name, self.screenshots, self.width = driver, name, screenshots, width
        self.taken: list[Path] = []

    @property
    def url(self) -> str:
        return self.driver.current_url

    @property
    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    def open(self, url: str) -> "Browser":
        self.driver.get(url)
        return self

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def fill(self, form: WebElement, **fields: str) -> None:
        for name, value in fields.items():
            field = form.find_element(By.NAME, name)
            field.clear()
            field.send_keys(value)

    def submit(self, form: WebElement, **fields: str) -> "Browser":
        """Fill in the form, press its submit button as a person would, and wait for the next page."""
        self.fill(form, **fields)
        return self._click_to_leave(
            form.find_element(By.CSS_SELECTOR, "button[type=submit], input[type=submit]")
        )

    def click(self, css: str) -> "Browser":
        """Click the element (a link, a button) and wait for the page it leads to."""
        return self._click_to_leave(self.find(css))

    def follow(self, link_text: str) -> "Browser":
        return self._click_to_leave(self.driver.find_element(By.LINK_TEXT, link_text))

    def _click_to_leave(self, element: WebElement) -> "Browser":
        """Click, then wait until this document is gone and the next one (after any redirects) has loaded.

        The old document is recognised by a mark set on its window, not by a stale element: asked about
        an element of a document being torn down, ChromeDriver answers with a stale-element error or, as
        often, with a bare inspector error ("Node with given id does not belong to the document"). While
        the navigation is under way a script may fail the same ways; the wait asks again until it ends."""
        mark = uuid4().hex
        self.driver.execute_script("window.__atesPage = arguments[0];", mark)
        element.click()
        WebDriverWait(self.driver, PAGE_TIMEOUT, ignored_exceptions=(WebDriverException,)).until(
            lambda driver: driver.execute_script(
                "return window.__atesPage !== arguments[0] && document.readyState === 'complete';",
                mark,
            )
        )
        return self

    def blocked_by_the_policy(self) -> list[str]:
        """What the Content-Security-Policy refused since last asked (Chromium logs each refusal)."""
        return [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if "Content Security Policy" in entry["message"]
        ]

    def style(self, css: str, property_name: str) -> str:
        return self.driver.execute_script(
            "return getComputedStyle(document.querySelector(arguments[0])).getPropertyValue(arguments[1]);",
            css,
            property_name,
        )

    def shot(self, label: str) -> Path:
        """A PNG of the whole page (beyond the window's height too), numbered in the order taken."""
        height = self.driver.execute_script(
            "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)"
        )
        picture = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": self.width,
                    "height": max(int(height), HEIGHT),
                    "scale": 1,
                },
            },
        )
        path = (
            self.screenshots
            / f"{len(list(self.screenshots.glob('*.png'))) + 1:02d}-{self.name}-{label}.png"
        )
        path.write_bytes(b64decode(picture["data"]))
        print(f"screenshot: {path}")
        self.taken.append(path)
        return path

    def accessibility_violations(self, impacts=("serious", "critical")) -> list[dict]:
        """What axe-core (WCAG 2.x A and AA rules, and its best practices) finds on the page open
        now, of these impacts. The script goes in through the DevTools protocol, which the page's
        Content-Security-Policy does not govern; the page itself still runs no inline script."""
        if not AXE.is_file():
            raise RuntimeError(f"{AXE} is missing: bin/test installs it (bin/lib.sh ensure_axe)")
        self.driver.execute_script(AXE.read_text(encoding="utf-8"))
        self.driver.set_script_timeout(AXE_TIMEOUT)
        found = self.driver.execute_async_script(
            """
            const done = arguments[arguments.length - 1];
            axe.run(document, {resultTypes: ["violations"]})
              .then(results => done(results.violations))
              .catch(error => done([{id: "axe-failed", impact: "critical", help: String(error),
                                     nodes: []}]));
            """
        )
        return [
            {
                "id": violation["id"],
                "impact": violation["impact"],
                "help": violation["help"],
                "nodes": [
                    {"target": node.get("target"), "html": node.get("html", "")[:200]}
                    for node in violation["nodes"][:5]
                ],
            }
            for violation in found
            if violation["impact"] in impacts
        ]


def describe(violations: list[dict]) -> str:
    """axe-core's findings as lines a person reads in a failed assertion."""
    lines = []
    for violation in violations:
        lines.append(f"- {violation['impact']} {violation['id']}: {violation['help']}")
        lines += [f"    {node['target']}: {node['html']}" for node in violation["nodes"]]
    return "\n".join(lines)


@contextmanager
def chromium(name: str, screenshots: Path, width: int = WIDTH, height: int = HEIGHT):
    """A fresh headless Chromium for `name` with a `width`×`height` window (375 wide: a phone);
    always quit afterwards, with a last screenshot if the test failed."""
    profile = Path(tempfile.mkdtemp(prefix=f"ates-chromium-{name}-"))
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--window-size={width},{height}", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability(
        "goog:loggingPrefs", {"browser": "ALL"}
    )  # the console, for blocked_by_the_policy
    screenshots.mkdir(parents=True, exist_ok=True)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(PAGE_TIMEOUT)
        # the page's own width, whatever the window's frame takes: what a phone's screen shows
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
        )
        browser = Browser(driver, name, screenshots, width)
        try:
            yield browser
        except BaseException:
            try:
                browser.shot("at-failure")
            except (
                Exception
            ):  # the browser itself may be what failed; the test's own error matters more
                pass
            raise
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
