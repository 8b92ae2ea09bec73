"""The example web page in a real browser: Debian's headless Chromium,
driven through chromedriver by python3-selenium (Debian packages, installed
by scripts/setup). Run by ctest under the label `browser` with Debian's own
/usr/bin/python3, which is where python3-selenium lives.

A person logs in by email (dev mode hands back the magic-link token: one
click), double-clicks Generate, and must see exactly one generation and one
reservation; cancelling it gives the credits back. A screenshot of the page
is saved under TALLY_BROWSER_SCREENSHOTS (the build folder) for a look.

If Chromium cannot start, the test FAILS with the reason: a browser test
that silently skips proves nothing.
"""

import os
import shutil
import sys
import time
import unittest
import uuid

from harness import Service, require_store, fetch, unique_email

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as until
    from selenium.webdriver.support.ui import Select, WebDriverWait
    SELENIUM_ERROR = None
except ImportError as error:  # reported as a failure below, not a skip
    SELENIUM_ERROR = error

CHROMIUM = os.environ.get("TALLY_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TALLY_CHROMEDRIVER", "/usr/bin/chromedriver")
SCREENSHOTS = os.environ.get("TALLY_BROWSER_SCREENSHOTS", "")
WAIT_S = 20
GRANT = 100
MODEL = "nano-banana"
PRICE = 5


def start_browser():
    if SELENIUM_ERROR is not None:
        raise AssertionError("python3-selenium is not importable by %s (%s): run scripts/setup"
                             % (sys.executable, SELENIUM_ERROR))
    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            raise AssertionError("%s not found: scripts/setup installs chromium and chromium-driver" % path)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1000", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    try:
        return webdriver.Chrome(service=DriverService(CHROMEDRIVER), options=options)
    except Exception as error:
        raise AssertionError("Chromium could not start (%s: %s)" % (type(error).__name__, error))


class BrowserWalkthrough(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_store()
        # The simulated provider is slowed down so the job is still running
        # when the test cancels it.
        cls.service = Service(env={"TALLY_DEV": "1", "TALLY_PROVIDER_SIMULATED_DELAY_MS": "120000"})
        cls.service.start()
        try:
            cls.browser = start_browser()
        except BaseException:
            cls.service.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()
        cls.service.stop()
        cls.service.cleanup()

    def wait(self, condition, what):
        try:
            # The page re-renders its lists while polling: an element found a
            # moment ago may be gone, which only means "look again".
            return WebDriverWait(self.browser, WAIT_S,
                                 ignored_exceptions=(NoSuchElementException,
                                                     StaleElementReferenceException)).until(condition)
        except Exception:
            self.screenshot("failed")
            raise AssertionError("timed out waiting for %s; log tail:\n%s"
                                 % (what, self.service.log_tail(15)))

    def text_is(self, element_id, text):
        return lambda driver: driver.find_element(By.ID, element_id).text == str(text)

    def screenshot(self, name):
        directory = SCREENSHOTS or self.service.workdir
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "browser-%s.png" % name)
        self.browser.save_screenshot(path)
        return path

    def api(self, token, path):
        response = fetch(self.service.port, "GET", path, token=token)
        self.assertEqual(response.status, 200, response)
        return response.json()

    def test_login_double_click_generate_then_cancel(self):
        email = unique_email("browser")
        user_id = self.service.create_user(email)
        self.assertEqual(self.service.grant(user_id, GRANT).status, 200)
        browser = self.browser
        browser.get("http://127.0.0.1:%d/app/" % self.service.port)

        # Log in by email: dev mode fills in the token, one click finishes.
        self.wait(until.visibility_of_element_located((By.ID, "email")), "the login form")
        browser.find_element(By.ID, "email").send_keys(email)
        browser.find_element(By.ID, "email-send").click()
        self.wait(lambda d: d.find_element(By.ID, "link-token").get_attribute("value"), "the dev token")
        browser.find_element(By.ID, "link-verify").click()
        self.wait(self.text_is("available", GRANT), "the balance after login")
        self.assertEqual(browser.find_element(By.ID, "who-name").text, email)

        # Double-click Generate: one job, one reservation.
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#model option[value='%s']" % MODEL),
                  "the model list")
        Select(browser.find_element(By.ID, "model")).select_by_value(MODEL)
        browser.find_element(By.ID, "prompt").send_keys("a lighthouse at dusk")
        ActionChains(browser).double_click(browser.find_element(By.ID, "generate")).perform()
        self.wait(self.text_is("reserved", PRICE), "the reservation")
        self.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#generations li")) == 1, "one generation")
        time.sleep(1.0)  # a second request, if the page sent one, has landed by now
        token = self.service.token(user_id)
        generations = self.api(token, "/v1/generations")["data"]
        self.assertEqual(len(generations), 1, generations)
        ledger = self.api(token, "/v1/me/ledger")["data"]
        self.assertEqual([e["type"] for e in ledger].count("reserve"), 1, ledger)
        self.assertEqual(len(browser.find_elements(By.CSS_SELECTOR, "#generations li")), 1)
        self.assertEqual(browser.find_element(By.ID, "available").text, str(GRANT - PRICE))
        self.screenshot("generating")

        # Cancel: the reservation is released and the balance restored.
        browser.find_element(By.CSS_SELECTOR, "#generations li button").click()
        self.wait(lambda d: d.find_element(By.CSS_SELECTOR, "#generations li").get_attribute("data-status")
                  == "cancelled", "the cancelled status")
        self.wait(self.text_is("available", GRANT), "the restored balance")
        self.wait(self.text_is("reserved", 0), "no reservation")
        balance = self.api(token, "/v1/me/balance")
        self.assertEqual(balance, {"available": GRANT, "reserved": 0})
        self.assertTrue(os.path.exists(self.screenshot("cancelled")))

        # A workspace: create it, check a subdomain, activate a module and
        # see the trial's end date.
        subdomain = "b" + uuid.uuid4().hex[:12]
        browser.find_element(By.ID, "tenant-name").send_keys("Browser Inc.")
        browser.find_element(By.ID, "tenant-create").click()
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#tenants li"), "the new workspace")
        self.wait(until.visibility_of_element_located((By.ID, "subdomain")), "the activation form")
        browser.find_element(By.ID, "subdomain").send_keys(subdomain)
        browser.find_element(By.ID, "subdomain-check").click()
        self.wait(self.text_is("subdomain-result", "%s is available." % subdomain), "the availability check")
        browser.find_element(By.ID, "activate").click()
        self.wait(lambda d: "trial ends" in d.find_element(By.ID, "activate-title").text, "the trial end date")
        me = self.api(token, "/v1/auth/me")
        self.assertEqual([t["role"] for t in me["tenants"]], ["owner"], me)
        tenant = self.api(token, "/v1/tenants/%s" % me["tenants"][0]["id"])
        self.assertEqual((tenant["active_module"], tenant["subdomain"]), ("shop", subdomain), tenant)
        self.screenshot("workspace")


if __name__ == "__main__":
    unittest.main()
