#!/usr/bin/env python3
"""The clinic's pages in a real browser (Debian's chromium + chromedriver,
driven by Selenium): a live `malha up` in a temporary directory, the totem
page issues a ticket, a desk calls it over gRPC (grpcurl), and the panel
page shows the code within one second; then the server restarts under the
open page, which reconnects by itself and shows the next call too.

Usage: tests/browser/clinic_pages.py path/to/malha [--screenshots DIR]
(./dev test runs it with the venv it keeps in ~/.cache/malha/tools/browser).
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = os.environ.get("MALHA_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("MALHA_CHROMEDRIVER", "/usr/bin/chromedriver")
LIVE = 1.0  # seconds from CallNext returning to the code on the panel


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Malha:
    """`malha up` over a private PostgreSQL and nats-server, restartable
    over the same data and ports."""

    def __init__(self, binary, work):
        self.binary = binary
        self.work = work
        self.ports = {name: free_port() for name in ("grpc", "admin", "edge", "pg", "nats")}
        self.process = None
        self.log = None
        self.banner = ""

    @property
    def grpc(self):
        return f"127.0.0.1:{self.ports['grpc']}"

    @property
    def edge(self):
        return f"http://127.0.0.1:{self.ports['edge']}"

    def start(self):
        env = dict(os.environ)
        env["MALHA_GRPC_ADDR"] = self.grpc
        env["MALHA_ADMIN_ADDR"] = f"127.0.0.1:{self.ports['admin']}"
        self.log = open(self.work / "malha.log", "a+")
        started = self.log.tell()
        self.process = subprocess.Popen(
            [self.binary, "up", "--data-dir", str(self.work / "data"),
             "--pg-port", str(self.ports["pg"]), "--nats-port", str(self.ports["nats"]),
             "--edge-addr", f"127.0.0.1:{self.ports['edge']}"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            self.log.seek(started)
            text = self.log.read()
            if "Malha is up" in text and "Ctrl-C stops everything" in text:
                self.banner = text[text.index("Malha is up"):]
                self.log.seek(0, os.SEEK_END)
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.25)
        self.log.seek(0)
        sys.exit(f"malha up did not come up; its log:\n{self.log.read()}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(2)  # SIGINT: PostgreSQL and NATS stop cleanly
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def banner_url(self, label):
        match = re.search(rf"{label}\s+(http\S+)", self.banner)
        assert match, f"the banner prints the {label}:\n{self.banner}"
        return match.group(1)

    def grpcurl(self, method, body, token=None):
        command = ["grpcurl", "-plaintext", "-d", json.dumps(body)]
        if token:
            command += ["-H", f"authorization: Bearer {token}"]
        command += [self.grpc, method]
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, f"{method}: {done.stderr}"
        return json.loads(done.stdout or "{}")


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,720", "--autoplay-policy=no-user-gesture-required",
                 "--lang=pt-BR"):
        options.add_argument(flag)
    # The Debian driver, never one Selenium Manager would download.
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def text_of(driver, element_id):
    return driver.find_element(By.ID, element_id).text.strip()


def wait_for_code(driver, code, timeout):
    """Seconds until the panel's current call shows `code`."""
    started = time.monotonic()
    WebDriverWait(driver, timeout, poll_frequency=0.02).until(
        lambda d: text_of(d, "current-code") == code)
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("malha")
    parser.add_argument("--screenshots", help="save the two pages as PNGs here")
    args = parser.parse_args()
    for tool in ("grpcurl", CHROMIUM, CHROMEDRIVER):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: ./dev test installs it (apt chromium chromium-driver, go install grpcurl)")

    work = Path(tempfile.mkdtemp())
    work.chmod(0o755)  # PostgreSQL runs as `postgres` when we are root
    malha = Malha(os.path.realpath(args.malha), work)
    panel = totem = None
    started = time.monotonic()
    try:
        malha.start()
        panel_url = malha.banner_url("clinic TV panel")
        setup_link = malha.banner_url("clinic totem")
        unit = panel_url.rsplit("/", 1)[1]
        panel_url = f"{malha.edge}/panel/{unit}"
        setup_link = malha.edge + setup_link[setup_link.index("/totem/"):]

        panel, totem = browser(), browser()
        panel.get(panel_url)
        WebDriverWait(panel, 10).until(
            lambda d: d.find_element(By.ID, "status").get_attribute("data-state") == "live")

        # The totem: set up by its link (the page keeps the account and
        # clears the address bar), a service, a priority, the code.
        totem.get(setup_link)
        WebDriverWait(totem, 10).until(ec.element_to_be_clickable((By.ID, "service-A"))).click()
        assert "#" not in totem.current_url, "the setup fragment is cleared"
        normal = WebDriverWait(totem, 5).until(ec.element_to_be_clickable((By.CSS_SELECTOR, "button.normal")))
        if args.screenshots:
            totem.save_screenshot(str(Path(args.screenshots) / "clinic-totem.png"))
        normal.click()
        WebDriverWait(totem, 10).until(lambda d: re.fullmatch(r"A\d{3}", text_of(d, "issued-code")))
        code = text_of(totem, "issued-code")
        print(f"totem issued {code}", file=sys.stderr)
        if args.screenshots:
            totem.save_screenshot(str(Path(args.screenshots) / "clinic-totem-code.png"))

        # A receptionist calls it at a desk over gRPC.
        rita = malha.grpcurl("malha.identity.v1.IdentityService/Login",
                             {"username": "rita", "password": "malha-clinic"})["tokens"]["accessToken"]
        desks = malha.grpcurl("malha.queue.v1.QueueService/ListDesks", {"unitId": unit}, rita)["desks"]
        desk = next(d for d in desks if d["name"] == "Guichê 1")
        called = malha.grpcurl("malha.queue.v1.QueueService/CallNext", {"deskId": desk["id"]}, rita)
        assert called["ticket"]["code"] == code, called
        seen = wait_for_code(panel, code, LIVE)
        assert text_of(panel, "current-desk") == "Guichê 1"
        print(f"panel showed {code} {seen * 1000:.0f} ms after CallNext returned", file=sys.stderr)
        assert seen <= LIVE, f"the panel took {seen:.2f} s"

        # The server restarts under the open page.
        malha.stop()
        WebDriverWait(panel, 15).until(
            lambda d: d.find_element(By.ID, "status").get_attribute("data-state") == "reconnecting")
        malha.start()
        WebDriverWait(panel, 30, poll_frequency=0.1).until(
            lambda d: d.find_element(By.ID, "status").get_attribute("data-state") == "live")
        print("panel reconnected after the restart", file=sys.stderr)

        # And follows the next call, issued on the same (still set up) totem.
        WebDriverWait(totem, 20).until(ec.element_to_be_clickable((By.ID, "service-A")))
        totem.find_element(By.ID, "service-A").click()
        WebDriverWait(totem, 5).until(ec.element_to_be_clickable((By.CSS_SELECTOR, "button.normal"))).click()
        WebDriverWait(totem, 10).until(lambda d: text_of(d, "issued-code") not in ("", code))
        second = text_of(totem, "issued-code")
        called = malha.grpcurl("malha.queue.v1.QueueService/CallNext", {"deskId": desk["id"]}, rita)
        assert called["ticket"]["code"] == second, called
        seen = wait_for_code(panel, second, LIVE)
        print(f"after the restart the panel showed {second} in {seen * 1000:.0f} ms", file=sys.stderr)
        recent = [li.text for li in panel.find_elements(By.CSS_SELECTOR, "#recent li")]
        assert recent and recent[0].startswith(code), f"the first call is listed below: {recent}"
        if args.screenshots:
            panel.save_screenshot(str(Path(args.screenshots) / "clinic-panel.png"))
        print(f"browser test passed in {time.monotonic() - started:.1f} s", file=sys.stderr)
    finally:
        for driver in (panel, totem):
            if driver:
                driver.quit()
        malha.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
