import { expect, test } from "@playwright/test";
import { act } from "./fixtures";

test("the Costs page charts the demo trace's usage with totals that match the API", async ({ page }) => {
  await act.signUpWithTestTrace(page, "costs");
  await act.openHydrated(page, "/costs?range=24h");

  // What the API says for the same window.
  const window = await page.getByTestId("costs-window").textContent();
  expect(window).toContain("by hour");
  const usage = await (await page.request.get("/api/v1/usage?granularity=total&since=" +
    encodeURIComponent(new Date(Date.now() - 24 * 3600e3).toISOString()))).json();
  const costNanos: number = usage.totals.cost_nanos;
  expect(costNanos).toBeGreaterThan(0);
  expect(usage.totals.requests).toBe(2);

  // Every chart is drawn as an SVG with a table and a CSV download.
  for (const id of ["cost-by-model", "tokens", "requests", "error-rate", "latency", "cost-by-service", "cost-by-agent", "cost-by-token"]) {
    const chart = page.getByTestId(`chart-${id}`);
    await expect(chart.locator("svg[role=img]")).toHaveCount(1);
    await expect(chart.getByRole("link", { name: "Download CSV" })).toHaveAttribute("href", /^data:text\/csv/);
  }
  await expect(page.getByTestId("total-requests")).toContainText("2");

  // The cost-by-model table's exact values add up to the API's total.
  const modelChart = page.getByTestId("chart-cost-by-model");
  await modelChart.getByText("Table of values").click();
  const cells = await modelChart.locator("tbody td.numeric").allTextContents();
  const tableNanos = cells
    .map((cell) => cell.trim())
    .filter((cell) => cell.startsWith("$"))
    .reduce((sum, cell) => sum + Math.round(parseFloat(cell.slice(1)) * 1e9), 0);
  expect(tableNanos).toBe(costNanos);
  await expect(modelChart.locator("thead")).toContainText("gpt-4o");

  // The CSV download holds the same numbers.
  const href = await modelChart.getByRole("link", { name: "Download CSV" }).getAttribute("href");
  const csv = decodeURIComponent(href!.replace(/^data:text\/csv;charset=utf-8,/, ""));
  expect(csv.split("\r\n")[0]).toContain("gpt-4o");
  const csvNanos = csv
    .split("\r\n")
    .slice(1)
    .filter((line) => line.length > 0)
    .flatMap((line) => line.split(",").slice(1))
    .reduce((sum, value) => sum + Math.round(parseFloat(value || "0") * 1e9), 0);
  expect(csvNanos).toBe(costNanos);

  // The most expensive trace opens in the trace view.
  await page.getByTestId("top-traces").getByRole("link").first().click();
  await expect(page).toHaveURL(/\/traces\/[0-9a-f]{32}$/);
});

test("GenAI metrics sent to /v1/metrics get charts of their own on the Costs page", async ({ page, baseURL }) => {
  await act.signUpWithTestTrace(page, "metrics");
  const me = await (await page.request.get("/api/v1/me")).json();
  const minted = await page.request.post(`/api/v1/orgs/${me.organizations[0].id}/tokens`, {
    data: { name: "metrics", scopes: ["ingest"] },
    headers: { Origin: baseURL! },
  });
  expect(minted.status()).toBe(201);
  const token = (await minted.json()).secret;

  // One delta export of gen_ai.client.token.usage, as an OTel SDK sends it.
  const now = BigInt(Date.now()) * 1_000_000n;
  const point = (tokenType: string, sum: number) => ({
    attributes: [
      { key: "gen_ai.token.type", value: { stringValue: tokenType } },
      { key: "gen_ai.request.model", value: { stringValue: "gpt-4o" } },
      { key: "gen_ai.provider.name", value: { stringValue: "openai" } },
    ],
    startTimeUnixNano: (now - 60_000_000_000n).toString(),
    timeUnixNano: now.toString(),
    count: "2",
    sum,
    bucketCounts: ["0", "2", "0"],
    explicitBounds: [100, 10000],
  });
  const sent = await page.request.post("/v1/metrics", {
    data: {
      resourceMetrics: [{
        resource: { attributes: [{ key: "service.name", value: { stringValue: "metrics-agent" } }] },
        scopeMetrics: [{ metrics: [{
          name: "gen_ai.client.token.usage",
          unit: "{token}",
          histogram: {
            aggregationTemporality: "AGGREGATION_TEMPORALITY_DELTA",
            dataPoints: [point("input", 1234), point("output", 321)],
          },
        }] }],
      }],
    },
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
  });
  expect(sent.status()).toBe(200);

  await act.openHydrated(page, "/costs?range=24h");
  const section = page.getByTestId("genai-metrics");
  await expect(section.getByRole("heading", { name: "GenAI metrics", exact: true })).toBeVisible();
  for (const id of ["metric-tokens", "metric-tokens-by-model"]) {
    const chart = section.getByTestId(`chart-${id}`);
    await expect(chart.locator("svg[role=img]")).toHaveCount(1);
    await expect(chart.getByRole("link", { name: "Download CSV" })).toHaveAttribute("href", /^data:text\/csv/);
  }
  const byModel = section.getByTestId("chart-metric-tokens-by-model");
  await byModel.getByText("Table of values").click();
  await expect(byModel.locator("tbody tr").first()).toContainText("gpt-4o (openai)");
  await expect(byModel.locator("tbody tr").first()).toContainText("1,555");
});
