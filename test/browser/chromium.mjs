// @ts-check
/**
 * The one way this project opens a browser on the Dagster UI: Debian's chromium
 * (/usr/bin/chromium, from scripts/install_chromium.sh) through playwright-core, in a
 * throwaway profile. Used by the browser test (test/browser/ui.mjs) and the bench's
 * run-page check (bench/run_page.mjs).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
// Without these, chromium on a machine without network hangs on lookups.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
export const VIEWPORT = { width: 1440, height: 900 };

/**
 * Chromium in a fresh profile; `close()` ends it and removes the profile.
 * @returns {Promise<{ context: import("playwright-core").BrowserContext, close: () => Promise<void> }>}
 */
export async function openBrowser() {
  const profile = mkdtempSync(join(tmpdir(), "mfdagster-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: VIEWPORT,
  });
  // Dagster shows a "Join the Dagster community" modal on localhost once; mark it seen
  // (the UI's own localStorage flag) so it covers no page.
  await context.addInitScript(() => {
    try {
      window.localStorage.setItem("communityNux", JSON.stringify("1"));
    } catch {
      // Not a Dagster page (e.g. chromium's own error page): nothing to mark.
    }
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A screenshot with no hover tooltip and no transition half-way.
 * @param {import("playwright-core").Page} page
 * @param {string} path
 */
export async function screenshot(page, path) {
  // Park the mouse so no hover tooltip covers the picture.
  await page.mouse.move(VIEWPORT.width - 5, VIEWPORT.height - 5);
  // Let hover tooltips fade out; finish any other transition at once.
  await page.waitForTimeout(300);
  await page.screenshot({ path, animations: "disabled" });
}
