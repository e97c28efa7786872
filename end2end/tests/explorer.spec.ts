import { expect, test } from "@playwright/test";
import { act } from "./fixtures";

test("spans appear in the explorer, filter by tool, and open a trace with a rendered diff", async ({ page }) => {
  await act.signUpWithTestTrace(page, "explorer");

  await act.openHydrated(page, "/spans");
  const rows = page.getByTestId("span-table").locator("tbody tr");
  await expect(rows).toHaveCount(6);
  await expect(page.getByTestId("span-table")).toContainText("gpt-4o");

  // "Load more" appends the next page under the table and leaves the URL alone.
  await act.openHydrated(page, "/spans?limit=4");
  await expect(rows).toHaveCount(4);
  await page.getByTestId("load-more").click();
  await expect(rows).toHaveCount(6);
  await expect(page.getByTestId("load-more")).toHaveCount(0);
  await expect(page).toHaveURL(/\/spans\?limit=4$/);

  // An attribute filter narrows the table, shows as a chip, and comes off again.
  await act.openHydrated(page, "/spans");
  await page.getByLabel("Attribute equals").fill("gen_ai.operation.name=invoke_agent");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute("data-kind", "agent");
  const chip = page.getByTestId("attribute-filter");
  await expect(chip).toContainText("gen_ai.operation.name=invoke_agent");
  await chip.getByRole("link", { name: /Remove filter/ }).click();
  await expect(rows).toHaveCount(6);

  // Filtering by tool name narrows the table and lands in the URL.
  await page.getByLabel("Tool name").fill("apply_patch");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/tool=apply_patch/);
  await expect(rows).toHaveCount(2);
  for (const kind of await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-kind")))) {
    expect(["tool_call", "tool_result"]).toContain(kind);
  }

  // A quick filter on a model name. The demo's two requests both asked for
  // gpt-4o; one was answered by a dated snapshot. Its name keeps that row
  // only, and the name asked for keeps both.
  await act.openHydrated(page, "/spans");
  await page.getByTestId("span-table").getByRole("link", { name: "gpt-4o-2024-08-06" }).click();
  await expect(page).toHaveURL(/model=gpt-4o-2024-08-06/);
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText("gpt-4o-2024-08-06");
  await act.openHydrated(page, "/spans");
  await page.getByTestId("span-table").getByRole("link", { name: "gpt-4o", exact: true }).click();
  await expect(page).toHaveURL(/model=gpt-4o$/);
  await expect(rows).toHaveCount(2);
  // The Model box suggests the organization's models, both names included.
  await expect(page.getByTestId("known-models").locator("option")).toHaveCount(2);

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

  // Folding the agent's span hides the five spans under it; unfolding shows them again.
  const waterfallRows = page.getByTestId("waterfall").locator(".waterfall-row");
  await page.getByTestId("waterfall").getByRole("button", { name: "Hide 5 spans below" }).click();
  await expect(waterfallRows.filter({ visible: true })).toHaveCount(1);
  await expect(waterfallRows.first()).toContainText("+5");
  await page.getByTestId("waterfall").getByRole("button", { name: "Show 5 spans below" }).click();
  await expect(waterfallRows.filter({ visible: true })).toHaveCount(6);
});

test("Live shows spans stored after the page loaded; the keyboard moves through rows", async ({ page, baseURL }) => {
  await act.signUpWithTestTrace(page, "live");

  const token = await act.mintToken(page, baseURL!, ["ingest"]);

  await act.openHydrated(page, "/spans");
  const rows = page.getByTestId("span-table").locator("tbody tr");
  await expect(rows).toHaveCount(6);
  await page.getByTestId("live-toggle").click();
  await expect(page.getByTestId("live-toggle")).toHaveAttribute("aria-pressed", "true");

  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const start = BigInt(Date.now()) * 1_000_000n;
  const body = {
    resourceSpans: [{
      resource: { attributes: [{ key: "service.name", value: { stringValue: "live-agent" } }] },
      scopeSpans: [{ spans: [{
        traceId, spanId: "00f067aa0ba902b7", name: "chat live",
        kind: 3, startTimeUnixNano: start.toString(), endTimeUnixNano: (start + 5_000_000n).toString(),
        attributes: [
          { key: "gen_ai.operation.name", value: { stringValue: "chat" } },
          { key: "gen_ai.request.model", value: { stringValue: "live-model-x" } },
        ],
      }] }],
    }],
  };
  // The stream is open before the span is stored.
  await expect(page.getByTestId("live-toggle")).toHaveAttribute("data-connected", "true");
  const sent = await page.request.post("/v1/traces", {
    data: body,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
  });
  expect(sent.status()).toBe(200);
  await expect(rows).toHaveCount(7);
  await expect(rows.first()).toContainText("live-model-x");

  // Keyboard: j selects the first row, j the next, k goes back, Enter opens it.
  await page.locator("body").click({ position: { x: 5, y: 5 } });
  await page.keyboard.press("j");
  await expect(rows.nth(0)).toHaveClass(/row-selected/);
  await page.keyboard.press("j");
  await expect(rows.nth(1)).toHaveClass(/row-selected/);
  await page.keyboard.press("k");
  await expect(rows.nth(0)).toHaveClass(/row-selected/);
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(new RegExp(`/traces/${traceId}\\?span=00f067aa0ba902b7`));

  await act.openHydrated(page, "/spans");
  await page.keyboard.press("/");
  await expect(page.getByTestId("search")).toBeFocused();
});

test("the waterfall gives span names the room they need, with the full name on hover", async ({ page, baseURL }) => {
  await act.signUpWithTestTrace(page, "waterfall");
  const token = await act.mintToken(page, baseURL!, ["ingest"]);

  // Names as the OpenTelemetry GenAI instrumentations write them, nested.
  const traceId = "5b8efff798038103d269b633813fc60c";
  const start = BigInt(Date.now()) * 1_000_000n;
  const span = (spanId: string, parentSpanId: string, name: string, attributes: Record<string, string>) => ({
    traceId, spanId, parentSpanId, name, kind: 1,
    startTimeUnixNano: start.toString(), endTimeUnixNano: (start + 900_000_000n).toString(),
    attributes: Object.entries(attributes).map(([key, value]) => ({ key, value: { stringValue: value } })),
  });
  const sent = await page.request.post("/v1/traces", {
    data: { resourceSpans: [{
      resource: { attributes: [{ key: "service.name", value: { stringValue: "coding-assistant" } }] },
      scopeSpans: [{ spans: [
        span("1000000000000001", "", "invoke_agent coding-assistant", { "gen_ai.operation.name": "invoke_agent" }),
        span("1000000000000002", "1000000000000001", "chat claude-sonnet-4-5-20250929",
          { "gen_ai.operation.name": "chat", "gen_ai.request.model": "claude-sonnet-4-5-20250929" }),
        span("1000000000000003", "1000000000000002", "execute_tool apply_patch",
          { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "apply_patch" }),
      ] }],
    }] },
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
  });
  expect(sent.status()).toBe(200);

  await page.setViewportSize({ width: 1400, height: 900 });
  await act.openHydrated(page, `/traces/${traceId}`);
  const names = page.getByTestId("waterfall").locator(".waterfall-name");
  await expect(names).toHaveCount(3);
  for (const name of await names.all()) {
    const [text, title, cut] = await name.evaluate((element) => [
      element.textContent,
      element.getAttribute("title"),
      element.scrollWidth > element.clientWidth,
    ]);
    expect(title).toBe(text);
    expect(cut, `"${text}" is cut short`).toBe(false);
  }
});
