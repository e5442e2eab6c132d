"""A small driver for headless Chromium over the DevTools protocol on a pipe
(--remote-debugging-pipe: commands on fd 3, replies on fd 4, NUL-terminated JSON), Python's
standard library only. Chromium runs on the host inside the lab's network namespace
(`lab.sh net`), so http://127.0.0.1/ is the lab's uhttpd.

    b = Browser(["lab.sh", "net", LAB], profile_dir)
    b.goto("http://127.0.0.1/cgi-bin/luci/")
    b.eval("document.title")
    b.screenshot("page.png")
    b.close()
"""

import base64
import fcntl
import json
import os
import select
import subprocess
import time

CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-pipe",
]


class BrowserError(Exception):
    pass


class Browser:
    def __init__(self, prefix, profile, chromium="/usr/bin/chromium", width=1280, height=900):
        # fd 3: what Chromium reads (our commands); fd 4: what it writes (replies, events)
        cmd_r, self.cmd_w = os.pipe()
        self.res_r, res_w = os.pipe()

        def fds():
            # both ends above fd 9 first, so that placing one cannot overwrite the other
            hi_r, hi_w = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10), fcntl.fcntl(res_w, fcntl.F_DUPFD, 10)
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)
            os.close(hi_r)
            os.close(hi_w)

        argv = list(prefix) + [chromium] + CHROMIUM_FLAGS + [
            "--user-data-dir=%s" % profile, "--window-size=%d,%d" % (width, height), "about:blank"]
        # (close_fds would close 3 and 4 after preexec_fn made them); Chromium's chatter to a file
        with open(os.path.join(profile, "chromium.log"), "w") as log:
            self.proc = subprocess.Popen(argv, preexec_fn=fds, close_fds=False, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, start_new_session=True)
        os.close(cmd_r)
        os.close(res_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.errors = []  # uncaught exceptions and console.error of the page
        targets = self.call("Target.getTargets")["targetInfos"]
        page = [t for t in targets if t["type"] == "page"]
        if not page:
            raise BrowserError("no page target: %s" % targets)
        self.session = self.call("Target.attachToTarget", targetId=page[0]["targetId"],
                                 flatten=True)["sessionId"]
        for m in ("Page.enable", "Runtime.enable"):
            self.call(m, session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def _read(self, timeout):
        end = time.time() + timeout
        while b"\0" not in self.buf:
            left = end - time.time()
            if left <= 0:
                raise BrowserError("no answer from Chromium in %ss" % timeout)
            r, _, _ = select.select([self.res_r], [], [], left)
            if r:
                chunk = os.read(self.res_r, 1 << 20)
                if not chunk:
                    raise BrowserError("Chromium closed its pipe (exit %s)" % self.proc.poll())
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def _event(self, m):
        method = m.get("method", "")
        p = m.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.errors.append("exception: %s" % (d.get("exception", {}).get("description") or d.get("text")))
        elif method == "Runtime.consoleAPICalled" and p.get("type") == "error":
            self.errors.append("console.error: %s" % " ".join(
                str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        self.events.append(m)

    def call(self, method, session=False, timeout=30, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        while True:
            m = self._read(timeout)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise BrowserError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self._event(m)

    def eval(self, expr, timeout=30):
        """The value of a JS expression in the page (a Promise is awaited)."""
        r = self.call("Runtime.evaluate", session=True, timeout=timeout, expression=expr,
                      awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise BrowserError("JS: %s" % (d.get("exception", {}).get("description") or d.get("text")))
        return r.get("result", {}).get("value")

    def wait(self, expr, timeout=20, what=None):
        """Polls the JS expression until it is truthy; returns its value."""
        end = time.time() + timeout
        while True:
            try:
                v = self.eval(expr)
            except BrowserError:
                v = None  # the page is between documents
            if v:
                return v
            if time.time() > end:
                raise BrowserError("timed out after %ss waiting for %s" % (timeout, what or expr))
            time.sleep(0.2)

    def goto(self, url, timeout=30):
        self.call("Page.navigate", session=True, url=url)
        self.wait("document.readyState == 'complete' && location.href == %s" % json.dumps(url)
                  if "#" not in url else "document.readyState == 'complete'", timeout, "loading %s" % url)

    def screenshot(self, path):
        r = self.call("Page.captureScreenshot", session=True, format="png", captureBeyondViewport=True,
                      clip={"x": 0, "y": 0, "scale": 1, "width": 1280,
                            "height": self.eval("Math.min(document.documentElement.scrollHeight, 4000)")})
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.cmd_w, self.res_r):
            try:
                os.close(fd)
            except OSError:
                pass
