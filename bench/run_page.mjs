// @ts-check
/**
 * How long the Dagster UI takes to open one finished run's page (issue #18: the
 * 10,000-wide run's page must open in under 30 s). Driven by bench/run_page.py, which
 * serves the bench's kept instance with `dagster dev` and writes SPEC.json:
 *
 *   node bench/run_page.mjs SPEC.json
 *
 * Opens `/runs/<id>` in a fresh browser and times, from the navigation:
 *   - `status`: the run's status tag says Success;
 *   - `steps`: the Gantt chart's side panel counts every succeeded step
 *     ("Succeeded (N)");
 *   - `last_event`: the log shows RUN_SUCCESS (the log's end: the UI streams the
 *     run's events in chunks, and follows the log to its end).
 * (The Gantt chart is in the screenshot: at 10,000 ops it draws each as a dot, with no
 * label a check could find.)
 * Then screenshots the page. Prints one JSON line of timings; exits 1 if a milestone is
 * not reached within the spec's limit.
 */
import { readFileSync } from "node:fs";
import { openBrowser, screenshot } from "../test/browser/chromium.mjs";

/**
 * @typedef {object} Spec
 * @property {string} baseUrl e.g. http://127.0.0.1:3000
 * @property {string} runId The finished run.
 * @property {number} succeededSteps Step executions the run recorded.
 * @property {number} limitSeconds Give up on a milestone after this long.
 * @property {string} screenshot Where the picture goes.
 */

async function main() {
  /** @type {Spec} */
  const spec = JSON.parse(readFileSync(process.argv[2] ?? "", "utf8"));
  const { context, close } = await openBrowser();
  /** @type {Record<string, number | string>} */
  const out = {};
  let code = 0;
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    // Warm the browser's cache of the UI's own scripts, as a user's open tab has.
    await page.goto(`${spec.baseUrl}/runs`);
    await page.getByText("Runs", { exact: true }).first().waitFor({ timeout: 60_000 });
    const t0 = Date.now();
    await page.goto(`${spec.baseUrl}/runs/${spec.runId}`);
    const timeout = spec.limitSeconds * 1000;
    /** @type {[string, import("playwright-core").Locator][]} */
    const milestones = [
      ["status", page.getByText("Success", { exact: true })],
      ["steps", page.getByText(`Succeeded (${spec.succeededSteps})`, { exact: true })],
      ["last_event", page.getByText("RUN_SUCCESS", { exact: true })],
    ];
    for (const [name, locator] of milestones) {
      try {
        await locator.filter({ visible: true }).first().waitFor({ state: "visible", timeout });
        out[name] = (Date.now() - t0) / 1000;
      } catch {
        out[name] = "not reached";
        code = 1;
      }
    }
    await screenshot(page, spec.screenshot);
  } finally {
    await close();
  }
  console.log(JSON.stringify(out));
  process.exit(code);
}

await main();
