// The TypeScript SDK from a real browser: headless Chromium (Debian's; ./dev
// deps installs it) opens a page that calls Malha over gRPC-Web and posts
// what it saw back to this test's small HTTP server.
//
// Malha's gRPC port sends no CORS headers and the page comes from another
// origin, so Chromium runs with --disable-web-security; a real web app is
// served from the API's origin (the Envoy edge in a cluster).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", ".."); // from dist/test

function chromium(): string {
  for (const name of ["chromium", "chromium-browser"]) {
    const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).stdout.trim();
    if (found) return found;
  }
  assert.fail("Chromium is not installed: ./dev deps installs it (apt install chromium)");
}

test("a browser page logs in and calls Malha over gRPC-Web", async () => {
  const url = process.env.MALHA_URL;
  assert.ok(url, "MALHA_URL is not set: run these tests with sdk/run-tests, which starts Malha");
  const bundle = await build({
    entryPoints: [join(root, "browser", "page.ts")],
    bundle: true,
    format: "iife",
    write: false,
    logLevel: "error",
  });
  const script = bundle.outputFiles[0]?.text ?? "";

  let reported: (body: string) => void = () => {};
  const result = new Promise<string>((resolve) => (reported = resolve));
  const server = createServer((request, response) => {
    if (request.method === "POST" && request.url === "/result") {
      let body = "";
      request.on("data", (chunk) => (body += chunk));
      request.on("end", () => {
        response.end();
        reported(body);
      });
    } else if (request.url === "/page.js") {
      response.setHeader("content-type", "text/javascript").end(script);
    } else {
      response.setHeader("content-type", "text/html").end('<!doctype html><script src="/page.js"></script>\n');
    }
  }).listen(0, "127.0.0.1");
  await once(server, "listening");
  const page = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  page.search = new URLSearchParams({
    url,
    username: process.env.MALHA_ADMIN_USERNAME ?? "",
    password: process.env.MALHA_ADMIN_PASSWORD ?? "",
  }).toString();

  const profile = mkdtempSync(join(tmpdir(), "malha-browser-"));
  const browser = spawn(
    chromium(),
    ["--headless", "--no-sandbox", "--disable-gpu", "--disable-web-security", `--user-data-dir=${profile}`, page.href],
    // Its own process group, so the zygote and renderers end with it.
    { stdio: "ignore", detached: true },
  );
  try {
    const timeout = new Promise<string>((_, reject) =>
      setTimeout(() => reject(new Error("the page reported nothing within 60 s")), 60_000).unref(),
    );
    const seen = JSON.parse(await Promise.race([result, timeout]));
    assert.ok(seen.sections > 0, `the page read the menu: ${JSON.stringify(seen)}`);
    assert.deepEqual(seen.fields, ["product.sku", "product.name"]);
  } finally {
    const exited = once(browser, "exit");
    killGroup(browser.pid, "SIGTERM");
    await exited;
    await groupGone(browser.pid);
    server.close();
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
});

function killGroup(pid: number | undefined, signal: NodeJS.Signals): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // ESRCH: nobody left in the group
  }
}

// Chromium's helper processes outlive its main one and keep writing the
// profile; removing it under them failed with ENOTEMPTY. Wait until none of
// the group is left: SIGKILL after 5 s, and give up waiting after 10 s (an
// unreaped zombie still answers signal 0 but writes nothing).
async function groupGone(pid: number | undefined): Promise<void> {
  const start = Date.now();
  while (killGroup(pid, 0 as unknown as NodeJS.Signals) && Date.now() - start < 10_000) {
    if (Date.now() - start > 5_000) killGroup(pid, "SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
