import { expect, test } from "@playwright/test";
import { act } from "./fixtures";

const PASSWORD = "correct horse battery staple";

test("spans appear in the explorer, filter by tool, and open a trace with a rendered diff", async ({ page }) => {
  const email = `explorer-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
  await act.openHydrated(page, "/signup");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page).toHaveURL(/\/spans$/);

  // The demo agent trace goes through the real ingest path.
  await page.getByTestId("send-test-trace").click();
  await expect(page.getByTestId("test-trace-id")).toContainText(/[0-9a-f]{32}/);

  await act.openHydrated(page, "/spans");
  const rows = page.getByTestId("span-table").locator("tbody tr");
  await expect(rows).toHaveCount(6);
  await expect(page.getByTestId("span-table")).toContainText("gpt-4o");

  // Filtering by tool name narrows the table and lands in the URL.
  await page.getByLabel("Tool name").fill("apply_patch");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/tool=apply_patch/);
  await expect(rows).toHaveCount(2);
  for (const kind of await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-kind")))) {
    expect(["tool_call", "tool_result"]).toContain(kind);
  }

  // A quick filter on a model name: the demo's two requests answered as
  // different model versions, so each name keeps one row.
  await act.openHydrated(page, "/spans");
  const modelLink = page.getByTestId("span-table").getByRole("link", { name: /^gpt-4o/ }).first();
  const model = (await modelLink.textContent())!.trim();
  await modelLink.click();
  await expect(page).toHaveURL(new RegExp(`model=${model}`));
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText(model);

  // The tool result's trace page renders its diff with coloured lines.
  await act.openHydrated(page, "/spans?kind=tool_result");
  await rows.first().getByRole("link").first().click();
  await expect(page).toHaveURL(/\/traces\/[0-9a-f]{32}\?span=[0-9a-f]{16}/);
  await expect(page.getByTestId("waterfall").locator(".waterfall-row")).toHaveCount(6);
  const diff = page.getByTestId("diff");
  await expect(diff.locator(".diff-file-name")).toHaveText("src/parser.rs");
  const added = diff.locator("tr.diff-add").first();
  await expect(added).toContainText("let Some(first)");
  const background = await added.evaluate((row) => getComputedStyle(row).backgroundColor);
  expect(background).not.toBe("rgba(0, 0, 0, 0)");
  await expect(diff.locator("tr.diff-del").first()).toContainText("unwrap()");

  // The raw text is one click away, and the detail panel shows correlation ids.
  await act.openHydrated(page, page.url().replace(/^https?:\/\/[^/]+/, ""));
  await diff.getByRole("button", { name: "Raw" }).click();
  await expect(diff.locator("pre")).toContainText("+++ b/src/parser.rs");
  await expect(page.getByTestId("span-detail")).toContainText("Span id");
});
