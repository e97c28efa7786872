import { expect, test } from "@playwright/test";
import { act } from "./fixtures";

/** A `datetime-local` value (UTC) `hours` from now. */
function utcInput(hours: number): string {
  return new Date(Date.now() + hours * 3600e3).toISOString().slice(0, 16);
}

test.use({ timezoneId: "UTC" });

test("an admin's price re-prices the demo trace through a recompute, and the totals follow", async ({ page }) => {
  await act.signUpWithTestTrace(page, "prices");
  const since = new Date(Date.now() - 24 * 3600e3).toISOString();
  const usage = async () =>
    (await (await page.request.get(`/api/v1/usage?granularity=total&since=${encodeURIComponent(since)}`)).json()).totals;
  const before = await usage();
  expect(before.cost_nanos).toBeGreaterThan(0);

  await act.openHydrated(page, "/costs/prices");
  // The built-in table, with sources, filters as one types.
  const builtin = page.getByTestId("builtin-prices");
  await expect(builtin.getByRole("row", { name: /gpt-4o\b/ }).first()).toBeVisible();
  await page.getByPlaceholder("model or provider").fill("claude");
  await expect(builtin.locator("tbody tr:visible", { hasText: "gpt-4o" })).toHaveCount(0);
  await expect(builtin.locator("tbody tr:visible", { hasText: "claude" }).first()).toBeVisible();
  await expect(page.getByTestId("no-overrides")).toBeVisible();

  // A price of one's own for gpt-4o, in force for every span.
  await page.getByLabel("Model or pattern").fill("gpt-4o");
  await page.getByLabel("Input (USD / Mtok)").fill("100");
  await page.getByLabel("Output (USD / Mtok)").fill("200");
  await page.getByLabel("Note").fill("end-to-end test price");
  await page.getByTestId("save-price").click();
  const overrides = page.getByTestId("price-overrides");
  await expect(overrides).toContainText("gpt-4o");
  await expect(overrides).toContainText("100");
  expect((await usage()).cost_nanos).toBe(before.cost_nanos);

  // Recompute the last day: the job shows its progress until it is done.
  await page.getByLabel("From (UTC)", { exact: true }).fill(utcInput(-24));
  await page.getByLabel("Until (UTC)", { exact: true }).fill(utcInput(1));
  await page.getByTestId("start-recompute").click();
  const jobs = page.getByTestId("recompute-jobs");
  await expect(jobs.locator("tbody tr").first()).toContainText("done", { timeout: 20_000 });
  await expect(jobs.locator("tbody tr").first()).toContainText("100%");

  const after = await usage();
  expect(after.cost_nanos).toBeGreaterThan(before.cost_nanos);
  const log = await (await page.request.get(`/api/v1/cost-logs?since=${encodeURIComponent(since)}&limit=500`)).json();
  const sum = log.entries.reduce((total: number, entry: { cost_nanos: number | null }) => total + (entry.cost_nanos ?? 0), 0);
  expect(after.cost_nanos).toBe(sum);

  // The audit log says who did what.
  const audit = page.getByTestId("audit-log");
  await expect(audit).toContainText("Added gpt-4o");
  await expect(audit).toContainText("Recomputed costs");
});
