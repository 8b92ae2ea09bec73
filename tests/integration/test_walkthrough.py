"""examples/curl/walkthrough.sh against the real server: the README's
walkthrough cannot drift from what the service does."""

import os
import subprocess
import unittest

from harness import REPO, ServiceTestCase

SCRIPT = os.path.join(REPO, "examples", "curl", "walkthrough.sh")


class CurlWalkthrough(ServiceTestCase):
    service_env = {"TALLY_DEV": "1"}

    def test_every_step_answers_as_documented(self):
        env = dict(os.environ, URL="http://127.0.0.1:%d" % self.service.port,
                   ADMIN=self.service.admin_token)
        done = subprocess.run(["bash", SCRIPT], env=env, capture_output=True, text=True, timeout=90)
        self.assertEqual(done.returncode, 0, "walkthrough failed:\n%s\n%s" % (done.stdout[-3000:], done.stderr))
        self.assertIn("every step answered as documented", done.stdout)
        for marker in ('"status":"pending"', '"active_module":"shop"', '"trialing"'):
            self.assertIn(marker, done.stdout.replace(" ", ""))


if __name__ == "__main__":
    unittest.main()
