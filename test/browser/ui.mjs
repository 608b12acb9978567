// @ts-check
/**
 * A real browser test of the Dagster UI for a generated definitions file.
 *
 *   node test/browser/ui.mjs SPEC.json
 *
 * Driven by tests/test_browser.py, which compiles examples/ui_demo_flow.py, starts
 * `dagster dev` and writes SPEC.json (see `Spec` below). It drives Debian's chromium
 * (/usr/bin/chromium, from scripts/install_chromium.sh) through playwright-core and
 * checks, in the UI:
 *   1. the job's graph page shows every op of the flow;
 *   2. the launchpad shows the typed parameter config prefilled with the defaults;
 *   3. a run launched from the launchpad succeeds;
 *   4. the run's logs show the step command ("Running: ... step start ...");
 *   5. an op's output metadata shows the Metaflow pathspec, artifacts and the
 *      retrieval snippet;
 *   6. the step's stdout (compute logs) shows what the flow step printed;
 *   7. the flow's assets in their group's lineage, and an artifact's value;
 *   8. a @card opens in one click from its op's metadata (Metaflow's card server).
 * Each stage leaves a screenshot in the spec's output directory, named as the README
 * uses them. Exits 1 with a message naming the failed check (and a failure.png).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openBrowser, screenshot as saveScreenshot } from "./chromium.mjs";

/**
 * @typedef {object} Param
 * @property {string} name Parameter name (the config field).
 * @property {string} line The YAML line the launchpad must prefill, e.g. "repeat: 2".
 * @property {string} type Dagster's config type name shown in the docs pane, e.g. "Int".
 * @property {string} help The parameter's help text (the field description).
 *
 * @typedef {object} Spec
 * @property {string} baseUrl e.g. http://127.0.0.1:3000
 * @property {string} location Code location name (the definitions file name).
 * @property {string} job Job name (the flow name).
 * @property {string[]} ops Every op the job graph must show.
 * @property {Param[]} params
 * @property {number} succeededSteps Step executions the finished run must count.
 * @property {string} metadataOp Op whose output metadata is checked.
 * @property {string} metaflowStep Metaflow step of that op.
 * @property {string} metaflowTask Its task id (README: how task ids are formed).
 * @property {string[]} artifacts Artifact names that op's metadata must list.
 * @property {string} stdoutText Text that op's stdout must show.
 * @property {number} runTimeoutSeconds
 * @property {string} assetGroup The flow's asset group (the job's name).
 * @property {string[]} assetNames Assets the group's lineage must show (last key part).
 * @property {string[]} valueAsset An artifact's asset key, whose page shows its value.
 * @property {string} assetValue The value (its repr) that page must show.
 * @property {string} cardOp Op of a step with @card.
 * @property {string} cardStep Its Metaflow step.
 * @property {string} cardTask Its task id.
 * @property {string} cardServer Where Metaflow's card server answers.
 * @property {string} cardText Text the card shows once opened.
 * @property {string} outDir Where the screenshots go.
 */

// UI waits (page loads, renders); the run itself has its own, longer timeout.
const UI_TIMEOUT_MS = 30_000;
// Where the run page keeps the height of its Gantt chart (percent).
const GANTT_SPLIT_KEY = "dagster.panel-width.run-gantt";

class CheckFailed extends Error {}

/** @param {boolean} condition @param {string} message @returns {asserts condition} */
function ensure(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

/** @param {string} text */
function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Wait for a locator to be visible; fail with `message` instead of a bare timeout.
 * @param {import("playwright-core").Locator} locator
 * @param {string} message
 * @param {number} [timeout]
 */
async function expectVisible(locator, message, timeout = UI_TIMEOUT_MS) {
  try {
    await locator.filter({ visible: true }).first().waitFor({ state: "visible", timeout });
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new CheckFailed(`${message} (${reason})`);
  }
}

/** @param {string} path @returns {Spec} */
function readSpec(path) {
  /** @type {Spec} */
  const spec = JSON.parse(readFileSync(path, "utf8"));
  for (const key of ["baseUrl", "location", "job", "outDir", "metadataOp"]) {
    ensure(typeof Reflect.get(spec, key) === "string", `spec: ${key} must be a string`);
  }
  return spec;
}

/**
 * @param {import("playwright-core").Page} page
 * @param {Spec} spec
 * @param {string} name
 */
async function screenshot(page, spec, name) {
  await saveScreenshot(page, join(spec.outDir, name));
}

/**
 * Wait until the run page's Gantt chart has caught up with the run's events: until
 * then it shows the plan, with each foreach fan-out as an unresolved `op[?]`.
 * @param {import("playwright-core").Page} page
 */
async function settleGantt(page) {
  const unresolved = page.getByText(/\[\?\]$/).filter({ visible: true });
  const deadline = Date.now() + UI_TIMEOUT_MS;
  let clear = 0;
  while (clear < 3) {
    clear = (await unresolved.count()) === 0 ? clear + 1 : 0;
    ensure(Date.now() < deadline, "the run's Gantt chart never resolved its fan-out ([?])");
    await page.waitForTimeout(300);
  }
}

/**
 * 1. The job's graph page shows every op.
 * @param {import("playwright-core").Page} page
 * @param {Spec} spec
 */
async function checkGraph(page, spec) {
  const url = `${spec.baseUrl}/locations/${encodeURIComponent(spec.location)}/jobs/${encodeURIComponent(spec.job)}`;
  await page.goto(url);
  await expectVisible(
    page.getByRole("tab", { name: "Launchpad" }),
    `the job page ${url} did not load (is the code location loaded?)`,
    60_000,
  );
  const missing = [];
  for (const op of spec.ops) {
    try {
      await page
        .getByText(op, { exact: true })
        .filter({ visible: true })
        .first()
        .waitFor({ state: "visible", timeout: missing.length ? 1_000 : UI_TIMEOUT_MS });
    } catch {
      missing.push(op);
    }
  }
  ensure(
    missing.length === 0,
    `the job graph at ${url} does not show the ops ${missing.join(", ")} ` +
      `(expected all of ${spec.ops.join(", ")})`,
  );
  await screenshot(page, spec, "03_job_graph.png");
}

/**
 * 2. The launchpad shows the parameters' config, prefilled with defaults, typed and
 * documented.
 * @param {import("playwright-core").Page} page
 * @param {Spec} spec
 */
async function checkLaunchpad(page, spec) {
  await page.getByRole("tab", { name: "Launchpad" }).click();
  await page.waitForURL(/\/playground$/, { timeout: UI_TIMEOUT_MS });
  for (const param of spec.params) {
    await expectVisible(
      page.getByText(param.line, { exact: true }),
      `the launchpad's YAML editor does not show the default "${param.line}"`,
    );
  }
  // With the cursor on a parameter, the docs pane shows the config type of op_start:
  // each field's type and its help text.
  const first = spec.params[0];
  ensure(first !== undefined, "spec: no parameters to check");
  await page
    .getByText(first.line, { exact: true })
    .getByText(first.name, { exact: true })
    .click();
  for (const param of spec.params) {
    await expectVisible(
      page.getByText(`${param.name}?: ${param.type}`),
      `the launchpad's config docs do not type ${param.name} as ${param.type}`,
      10_000,
    );
    await expectVisible(
      page.getByText(param.help),
      `the launchpad's config docs do not show the help of ${param.name}: "${param.help}"`,
      10_000,
    );
  }
  await expectVisible(page.getByText("No errors"), "the launchpad reports config errors");
  // The button is enabled once the launchpad has validated the config.
  const launch = page.getByRole("button", { name: "Launch Run" });
  const deadline = Date.now() + UI_TIMEOUT_MS;
  while (!(await launch.isEnabled())) {
    ensure(Date.now() < deadline, "the launchpad's Launch Run button stays disabled");
    await page.waitForTimeout(200);
  }
  await screenshot(page, spec, "03b_launchpad.png");
}

/**
 * 3. Launching from the launchpad starts a run that the daemon dequeues and that
 * succeeds. Returns the run id, read from the run page's URL.
 * @param {import("playwright-core").Page} page
 * @param {Spec} spec
 * @returns {Promise<string>}
 */
async function checkLaunch(page, spec) {
  await page.getByRole("button", { name: "Launch Run" }).click();
  try {
    await page.waitForURL(/\/runs\/[0-9a-f-]{36}/, { timeout: UI_TIMEOUT_MS });
  } catch {
    throw new CheckFailed(`launching did not open a run page (still at ${page.url()})`);
  }
  const match = /\/runs\/([0-9a-f-]{36})/.exec(page.url());
  ensure(match?.[1] !== undefined, `no run id in ${page.url()}`);
  const runId = match[1];
  const deadline = Date.now() + spec.runTimeoutSeconds * 1000;
  const success = page.getByText("Success", { exact: true });
  const ended = page.getByText(/^(Failure|Canceled|Canceling)$/);
  let status = "";
  while (Date.now() < deadline) {
    if (await success.first().isVisible()) {
      status = "Success";
      break;
    }
    if (await ended.first().isVisible()) {
      status = (await ended.first().innerText()).trim();
      break;
    }
    await page.waitForTimeout(1_000);
  }
  if (status !== "Success") {
    await screenshot(page, spec, "05_run_complete.png");
    ensure(
      status !== "",
      `run ${runId} did not finish within ${spec.runTimeoutSeconds}s ` +
        `(queued and never dequeued? is the daemon running?)`,
    );
    throw new CheckFailed(`run ${runId} ended with status ${status}, not Success`);
  }
  await expectVisible(page.getByText("RUN_SUCCESS", { exact: true }), "no RUN_SUCCESS event");
  await expectVisible(
    page.getByText(`Succeeded (${spec.succeededSteps})`, { exact: true }),
    `the run page does not count ${spec.succeededSteps} succeeded steps`,
  );
  // For the picture, give the Gantt chart half the page (the UI keeps the splitter's
  // position in localStorage, as if dragged), then put the default back.
  await page.evaluate((key) => window.localStorage.setItem(key, "50"), GANTT_SPLIT_KEY);
  await page.reload();
  await expectVisible(page.getByText("RUN_SUCCESS", { exact: true }), "no RUN_SUCCESS event");
  await settleGantt(page);
  await screenshot(page, spec, "05_run_complete.png");
  await page.evaluate((key) => window.localStorage.removeItem(key), GANTT_SPLIT_KEY);
  return runId;
}

/**
 * 4. The op's logs show the Metaflow command it ran.
 * @param {import("playwright-core").Page} page
 * @param {Spec} spec
 * @param {string} runId
 */
async function checkLogs(page, spec, runId) {
  const filter = encodeURIComponent(`step:${spec.metadataOp}`);
  await page.goto(`${spec.baseUrl}/runs/${runId}?logs=${filter}`);
  await expectVisible(
    page.getByText("STEP_OUTPUT", { exact: true }),
    `the logs of ${spec.metadataOp} in run ${runId} show no STEP_OUTPUT`,
  );
  const command = new RegExp(
    `^Running: .* step ${escapeRegExp(spec.metaflowStep)} --run-id dagster-${runId} `,
  );
  await expectVisible(
    page.getByText(command),
    `the logs of ${spec.metadataOp} do not show the step command ` +
      `"Running: ... step ${spec.metaflowStep} --run-id dagster-${runId} ..."`,
  );
  await settleGantt(page);
  await screenshot(page, spec, "07_run_logs.png");
}

/**
 * 5. The op's output metadata: Metaflow pathspec, artifact names, retrieval snippet.
 * Expects the page left by checkLogs (logs filtered to the op).
 * @param {import("playwright-core").Page} page
 * @param {Spec} spec
 * @param {string} runId
 */
async function checkMetadata(page, spec, runId) {
  const pathspec = `${spec.job}/dagster-${runId}/${spec.metaflowStep}/${spec.metaflowTask}`;
  await expectVisible(
    page.getByText("metaflow pathspec", { exact: true }),
    `the output of ${spec.metadataOp} has no "metaflow pathspec" metadata`,
  );
  await expectVisible(
    page.getByText(pathspec, { exact: true }),
    `the "metaflow pathspec" metadata of ${spec.metadataOp} is not ${pathspec}`,
  );
  const dialog = page.getByRole("dialog");

  await page.getByText("[Show JSON]").first().click();
  await expectVisible(dialog, `"[Show JSON]" (artifacts) opened no dialog`);
  await expectVisible(dialog.getByText("artifacts"), "the JSON dialog is not the artifacts");
  const listed = await dialog.innerText();
  const absent = spec.artifacts.filter((name) => !listed.includes(`"${name}"`));
  ensure(
    absent.length === 0,
    `the artifacts metadata of ${spec.metadataOp} lacks ${absent.join(", ")}:\n${listed}`,
  );
  await dialog.getByRole("button", { name: "Close" }).click();
  await dialog.waitFor({ state: "hidden", timeout: UI_TIMEOUT_MS });

  await page.getByText("[Show Markdown]").first().click();
  await expectVisible(dialog, `"[Show Markdown]" (retrieve) opened no dialog`);
  await expectVisible(
    dialog.getByText("from metaflow import Task"),
    `the retrieve metadata of ${spec.metadataOp} has no "from metaflow import Task"`,
  );
  await expectVisible(
    dialog.getByText(`task = Task('${pathspec}', attempt=0)`),
    `the retrieve snippet does not open Task('${pathspec}', attempt=0)`,
  );
  for (const name of spec.artifacts) {
    await expectVisible(
      dialog.getByText(`task['${name}'].data`),
      `the retrieve snippet does not read artifact ${name}`,
    );
  }
  await screenshot(page, spec, "06_op_metadata.png");
  await dialog.getByRole("button", { name: "Close" }).click();
  await dialog.waitFor({ state: "hidden", timeout: UI_TIMEOUT_MS });
}

/**
 * 6. The op's stdout (Dagster's compute logs) shows what the Metaflow step printed.
 * @param {import("playwright-core").Page} page
 * @param {Spec} spec
 */
async function checkStdout(page, spec) {
  await page.getByRole("button", { name: "stdout" }).click();
  await page.getByPlaceholder("Select a step…").click();
  await page.getByRole("menuitem", { name: spec.metadataOp, exact: true }).click();
  await expectVisible(
    page.getByText(spec.stdoutText),
    `the stdout of ${spec.metadataOp} does not show "${spec.stdoutText}"`,
  );
  await screenshot(page, spec, "07b_step_stdout.png");
}

/**
 * 7. The flow's assets: the asset group's lineage shows the flow and its end step's
 * artifacts; an artifact's page shows the value the run materialized.
 * @param {import("playwright-core").Page} page
 * @param {Spec} spec
 */
async function checkAssets(page, spec) {
  const url = `${spec.baseUrl}/locations/${encodeURIComponent(spec.location)}/asset-groups/${encodeURIComponent(spec.assetGroup)}`;
  await page.goto(url);
  for (const name of spec.assetNames) {
    await expectVisible(
      page.getByText(name, { exact: true }).filter({ visible: true }).first(),
      `the asset group at ${url} does not show the asset ${name}`,
    );
  }
  await screenshot(page, spec, "08_asset_lineage.png");
  const assetUrl = `${spec.baseUrl}/assets/${spec.valueAsset.map(encodeURIComponent).join("/")}`;
  await page.goto(assetUrl);
  await expectVisible(
    page.getByText(spec.assetValue).filter({ visible: true }).first(),
    `the asset page ${assetUrl} does not show the materialized value ${spec.assetValue}`,
  );
  await screenshot(page, spec, "08b_asset_value.png");
}

/**
 * 8. A card in one click: the card op's `card served` link opens the card, as
 * Metaflow's card server renders it, in a new tab.
 * @param {import("playwright-core").Page} page
 * @param {Spec} spec
 * @param {string} runId
 */
async function checkCard(page, spec, runId) {
  const filter = encodeURIComponent(`step:${spec.cardOp}`);
  await page.goto(`${spec.baseUrl}/runs/${runId}?logs=${filter}`);
  await expectVisible(
    page.getByText("card served", { exact: true }),
    `the output of ${spec.cardOp} has no "card served" metadata`,
  );
  // /card/<flow>/<run>/<step>/<task>/<card hash>: the card server's route for a card.
  const prefix =
    `${spec.cardServer}/card/${spec.job}/dagster-${runId}/` +
    `${spec.cardStep}/${spec.cardTask}/`;
  const address = new RegExp(`^${escapeRegExp(prefix)}[0-9a-f]+$`);
  const link = page.getByRole("link", { name: address });
  await expectVisible(link, `the "card served" metadata is not a link to ${prefix}<hash>`);
  const [card] = await Promise.all([page.context().waitForEvent("page"), link.click()]);
  await card.waitForLoadState();
  ensure(address.test(card.url()), `the link opened ${card.url()}, not ${prefix}<hash>`);
  await expectVisible(
    card.getByText(spec.cardText).first(),
    `the card at ${card.url()} does not show "${spec.cardText}"`,
  );
  await card.screenshot({ path: join(spec.outDir, "09_card.png") });
  await card.close();
}

async function main() {
  const specPath = process.argv[2];
  if (specPath === undefined) {
    console.error("usage: node test/browser/ui.mjs SPEC.json");
    process.exit(2);
  }
  const spec = readSpec(specPath);
  /** @type {Record<string, number>} */
  const timings = {};
  /** @type {string[]} */
  const pageErrors = [];
  const started = Date.now();
  const { context, close } = await openBrowser();
  timings.launch_browser = (Date.now() - started) / 1000;
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  page.on("pageerror", (error) => pageErrors.push(error.message));

  /**
   * @template T
   * @param {string} name
   * @param {() => Promise<T>} body
   * @returns {Promise<T>}
   */
  async function stage(name, body) {
    const t0 = Date.now();
    try {
      return await body();
    } catch (error) {
      await page.screenshot({ path: join(spec.outDir, "failure.png") }).catch(() => {});
      const message = error instanceof Error ? error.message : String(error);
      throw new CheckFailed(
        `check "${name}" failed at ${page.url()}: ${message}\n` +
          `(screenshot: ${join(spec.outDir, "failure.png")})`,
      );
    } finally {
      timings[name] = (Date.now() - t0) / 1000;
      console.log(`[ui] ${name}: ${timings[name].toFixed(1)}s`);
    }
  }

  let exitCode = 0;
  try {
    await stage("job_graph", () => checkGraph(page, spec));
    await stage("launchpad", () => checkLaunchpad(page, spec));
    const runId = await stage("run", () => checkLaunch(page, spec));
    await stage("run_logs", () => checkLogs(page, spec, runId));
    await stage("op_metadata", () => checkMetadata(page, spec, runId));
    await stage("step_stdout", () => checkStdout(page, spec));
    await stage("assets", () => checkAssets(page, spec));
    await stage("card", () => checkCard(page, spec, runId));
    console.log(`[ui] run ${runId}: all checks passed`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    exitCode = 1;
  } finally {
    timings.total = (Date.now() - started) / 1000;
    writeFileSync(join(spec.outDir, "timings.json"), JSON.stringify(timings, null, 2));
    if (pageErrors.length > 0) {
      console.log(`[ui] page errors (not failing the test):\n  ${pageErrors.join("\n  ")}`);
    }
    await close();
  }
  process.exit(exitCode);
}

await main();
