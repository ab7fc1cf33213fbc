// The TypeScript SDK from a real browser: headless Chromium (Debian's; ./dev
// deps installs it) opens a page that calls Malha over gRPC-Web.
//
// The page is a local file and Malha's gRPC port sends no CORS headers, so
// Chromium runs with --disable-web-security; a real web app is served from
// the same origin as the API (the Envoy edge in a cluster).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url)); // dist/test
const root = join(here, "..", "..");

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
  const work = mkdtempSync(join(tmpdir(), "malha-browser-"));
  try {
    await build({
      entryPoints: [join(root, "browser", "page.ts")],
      bundle: true,
      format: "iife",
      outfile: join(work, "page.js"),
      logLevel: "error",
    });
    writeFileSync(join(work, "page.html"), '<!doctype html><pre id="result">pending</pre><script src="page.js"></script>\n');
    const page = pathToFileURL(join(work, "page.html"));
    page.search = new URLSearchParams({
      url,
      username: process.env.MALHA_ADMIN_USERNAME ?? "",
      password: process.env.MALHA_ADMIN_PASSWORD ?? "",
    }).toString();

    const dom = execFileSync(
      chromium(),
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-web-security",
        `--user-data-dir=${join(work, "profile")}`,
        "--virtual-time-budget=20000",
        "--dump-dom",
        page.href,
      ],
      { encoding: "utf8", timeout: 60_000, stdio: ["ignore", "pipe", "ignore"] },
    );
    const seen = dom.match(/<pre id="result">(.*?)<\/pre>/s)?.[1] ?? dom;
    const result = JSON.parse(seen.replaceAll("&quot;", '"'));
    assert.ok(result.sections > 0, `the page read the menu: ${seen}`);
    assert.deepEqual(result.fields, ["product.sku", "product.name"]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
