"""The example web page at /app/ (examples/web/): served from memory with
its security headers, revalidated by ETag, off outside dev mode unless asked
for, and never a way out of its folder."""

import os
import unittest

from harness import REPO, Service, ServiceTestCase, require_store

WEB_DIR = os.path.join(REPO, "examples", "web")


class WebPageInDevMode(ServiceTestCase):
    service_env = {"TALLY_DEV": "1"}

    def test_index_is_served_with_security_headers(self):
        response = self.client.get("/app/")
        self.assertEqual(response.status, 200, response)
        self.assertTrue(response.header("Content-Type").startswith("text/html"))
        with open(os.path.join(WEB_DIR, "index.html"), "rb") as f:
            self.assertEqual(response.body, f.read())
        policy = response.header("Content-Security-Policy")
        self.assertIn("script-src 'self'", policy)
        self.assertIn("frame-ancestors 'none'", policy)
        self.assertEqual(response.header("X-Content-Type-Options"), "nosniff")
        self.assertEqual(response.header("Cache-Control"), "no-cache")

    def test_every_file_the_page_loads_is_served_with_its_type(self):
        for name, content_type in (("app.js", "text/javascript"), ("app.css", "text/css")):
            response = self.client.get("/app/" + name)
            self.assertEqual(response.status, 200, (name, response))
            self.assertTrue(response.header("Content-Type").startswith(content_type), response)
            self.assertGreater(len(response.body), 100)

    def test_unchanged_file_is_304_without_a_body(self):
        first = self.client.get("/app/app.js")
        etag = first.header("ETag")
        self.assertTrue(etag and etag.startswith('"'), first)
        again = self.client.get("/app/app.js", headers={"If-None-Match": etag})
        self.assertEqual(again.status, 304, again)
        self.assertEqual(again.body, b"")
        other = self.client.get("/app/app.js", headers={"If-None-Match": '"stale"'})
        self.assertEqual(other.status, 200)

    def test_app_without_slash_redirects(self):
        response = self.client.get("/app")
        self.assertEqual(response.status, 308, response)
        self.assertEqual(response.header("Location"), "/app/")

    def test_unknown_and_escaping_names_are_404(self):
        for path in ("/app/nope.js", "/app/..%2fCMakeLists.txt", "/app/.hidden", "/app/README",
                     "/app/%2e%2e", "/app/index.html%00.js"):
            response = self.client.get(path)
            self.assertProblem(response, 404, "NOT_FOUND")


class WebPageOffOutsideDevMode(ServiceTestCase):
    service_env = {}

    def test_page_is_404_when_not_enabled(self):
        for path in ("/app", "/app/", "/app/app.js"):
            self.assertProblem(self.client.get(path), 404, "NOT_FOUND")


class WebPageSettings(unittest.TestCase):
    def setUp(self):
        require_store()

    def test_enabled_page_is_served_outside_dev_mode(self):
        service = Service(env={"TALLY_WEB_APP": "1"})
        try:
            service.start()
            client = service.client()
            self.assertEqual(client.get("/app/").status, 200)
            client.close()
            self.assertEqual(service.stop(), 0)
        finally:
            service.cleanup()

    def test_missing_folder_stops_the_start(self):
        service = Service(env={"TALLY_WEB_APP": "1", "TALLY_WEB_DIR": "/nonexistent/web"})
        try:
            done = service.command("serve")
            self.assertEqual(done.returncode, 2, done.stderr)
            self.assertIn("web-dir", done.stderr + done.stdout)
        finally:
            service.cleanup()


if __name__ == "__main__":
    unittest.main()
