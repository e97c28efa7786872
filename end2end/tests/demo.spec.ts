import { expect, test } from "@playwright/test";
import { act } from "./fixtures";

test("Run demo fills an empty organization, every page shows it, and Remove demo data takes it away", async ({ page }) => {
  test.setTimeout(90_000);
  const email = `demo-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
  await act.openHydrated(page, "/signup");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("correct horse battery staple");
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page).toHaveURL(/\/spans$/);

  // The empty Spans page offers the demo next to the configuration card.
  await expect(page.getByTestId("demo-offer")).toBeVisible();
  await page.getByTestId("run-demo").click();
  await expect(page).toHaveURL(/\/spans\?range=7d$/, { timeout: 30_000 });
  const rows = page.locator("table tbody tr");
  await expect(rows.first()).toBeVisible();
  // The newest rows may come from any of the three demo services.
  await expect(page.getByText(/^demo-(support-bot|code-agent|research-assistant)$/).first()).toBeVisible();

  await page.goto("/traces?range=7d");
  await expect(page.locator("table tbody tr").first()).toBeVisible();
  await expect(page.getByText(/invoke_agent (coder|researcher|support-triage)/).first()).toBeVisible();

  await page.goto("/costs?range=7d");
  await expect(page.getByTestId("chart-metric-tokens-by-model")).toBeVisible();
  await expect(page.getByText("Demo data (spk_").first()).toBeVisible();

  // Settings says what the demo added and removes exactly that.
  await act.openHydrated(page, "/settings");
  const card = page.getByTestId("demo-data");
  await expect(card.getByTestId("demo-present")).toContainText("300 traces");
  page.once("dialog", (dialog) => dialog.accept());
  await card.getByTestId("remove-demo").click();
  await expect(card.getByTestId("demo-removed")).toContainText("Removed 300 traces");
  await expect(card.getByTestId("run-demo")).toBeVisible();

  await act.openHydrated(page, "/spans");
  await expect(page.getByTestId("demo-offer")).toBeVisible();
});

test("an empty organization's Spans page hydrates when loaded directly, every time", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  const email = `empty-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
  await act.openHydrated(page, "/signup");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("correct horse battery staple");
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page).toHaveURL(/\/spans$/);
  // Server-rendered and hydrated (not reached by client-side navigation):
  // the card's endpoints and status line must not depend on how often the
  // server built the page's suspense.
  for (let attempt = 0; attempt < 5; attempt++) {
    await act.openHydrated(page, "/spans");
    await expect(page.getByTestId("demo-offer")).toBeVisible();
    await expect(page.getByTestId("ingest-status")).toContainText("Waiting for the first span");
  }
  expect(errors).toEqual([]);
});
