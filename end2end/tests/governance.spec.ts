import { expect, test } from "@playwright/test";
import { act } from "./fixtures";

test("an owner saves a policy, tests its redaction and finds the save in the audit log", async ({ page }) => {
  await act.signUpWithTestTrace(page, "governance");

  await act.openHydrated(page, "/policies");
  await expect(page.getByTestId("policy-version")).toContainText("No policy saved yet");
  const editor = page.getByTestId("policy-editor");
  await editor.getByLabel("Policy document").fill(JSON.stringify({
    redaction: { rules: [{ id: "customer", kind: "regex", pattern: "CUST-[0-9]{6}", label: "customer_id" }] },
    sampling: { services: { "health-checker": 5 } },
  }, null, 2));
  await editor.getByLabel("Why (shown in the history)").fill("customer ids are personal data");
  await editor.getByRole("button", { name: "Save as version 1" }).click();
  await expect(page.getByTestId("policy-version")).toContainText("Version 1");
  await expect(page.getByTestId("policy-in-force")).toContainText("customer → [REDACTED:customer_id]");
  await expect(page.getByTestId("policy-history")).toContainText("customer ids are personal data");
  await expect(page.getByTestId("policy-history")).toContainText("sampling.services");

  // A mistake is refused with the setting named, and nothing is saved.
  await editor.getByLabel("Policy document").fill('{"sampling": {"percent": 250}}');
  await editor.getByRole("button", { name: "Save as version 2" }).click();
  await expect(page.getByTestId("form-error")).toContainText("sampling.percent");
  await expect(page.getByTestId("policy-version")).toContainText("Version 1");

  // The test box shows what a pasted text becomes under the policy in force.
  await act.openHydrated(page, "/policies");
  const box = page.getByTestId("redaction-test");
  await box.getByLabel("Text to test").fill("Refund CUST-123456, key sk-abcdefghijklmnopqrstuvwx");
  await box.getByRole("button", { name: "Test" }).click();
  await expect(box.getByTestId("redaction-result")).toHaveText(
    "Refund [REDACTED:customer_id], key [REDACTED:openai_key]");

  // The save is in the audit log, whose chain checks out.
  await act.openHydrated(page, "/settings/audit?action=policy.");
  const entries = page.getByTestId("audit-entries");
  await expect(entries).toContainText("saved policy version 1");
  await page.getByTestId("audit-verify").click();
  await expect(page.getByTestId("audit-chain")).toContainText("Chain intact");
});

test("a gateway's decision shows on its model call's span and on the Policies page", async ({ page, baseURL }) => {
  await act.signUpWithTestTrace(page, "gateway");
  const me = await (await page.request.get("/api/v1/me")).json();
  const org = me.organizations[0].id;
  const saved = await page.request.post(`/api/v1/governance/policies?org=${org}`, {
    data: { document: { guardrails: { allowed_models: ["gpt-4o-mini"], fallback_model: "gpt-4o-mini" } } },
    headers: { Origin: baseURL! },
  });
  expect(saved.status()).toBe(201);

  // The gateway asks with an `evaluate` token and is told to route.
  const gateway = await act.mintToken(page, baseURL!, ["evaluate"]);
  const answer = await page.request.post("/api/v1/governance/evaluate", {
    data: { model: "gpt-4o", prompt: "Summarize the incident report", end_user: "u-42" },
    headers: { Authorization: `Bearer ${gateway}` },
  });
  expect(answer.status()).toBe(200);
  const decision = await answer.json();
  expect(decision.action).toBe("route");
  expect(decision.model).toBe("gpt-4o-mini");

  // Its model call carries the decision id.
  const ingest = await act.mintToken(page, baseURL!, ["ingest"]);
  const traceId = "d".repeat(32);
  const now = BigInt(Date.now()) * 1_000_000n;
  const sent = await page.request.post("/v1/traces", {
    headers: { Authorization: `Bearer ${ingest}`, "Content-Type": "application/json" },
    data: {
      resourceSpans: [{
        resource: { attributes: [{ key: "service.name", value: { stringValue: "gateway" } }] },
        scopeSpans: [{ spans: [{
          traceId, spanId: "1".repeat(16), name: "chat gpt-4o-mini", kind: 3,
          startTimeUnixNano: now.toString(), endTimeUnixNano: (now + 900_000_000n).toString(),
          attributes: [
            { key: "gen_ai.operation.name", value: { stringValue: "chat" } },
            { key: "gen_ai.request.model", value: { stringValue: "gpt-4o-mini" } },
            { key: "specula.decision_id", value: { stringValue: decision.decision_id } },
          ],
        }] }],
      }],
    },
  });
  expect(sent.status()).toBe(200);

  await act.openHydrated(page, `/traces/${traceId}?span=${"1".repeat(16)}`);
  const shown = page.locator("dd.decision");
  await expect(shown).toContainText("route");
  await expect(shown).toContainText("to gpt-4o-mini");
  await expect(shown).toContainText("model_not_allowed (allowed_models)");

  await act.openHydrated(page, "/policies");
  const decisions = page.getByTestId("policy-decisions");
  await expect(decisions.getByTestId("decision-row").first()).toContainText("gpt-4o → gpt-4o-mini");
  await expect(page.getByTestId("policy-retention")).toContainText("Audit log");
});

test("limits and budgets saved in the policy show on the Costs page, and an export over the rate is refused", async ({ page, baseURL }) => {
  await act.signUpWithTestTrace(page, "limits");
  const me = await (await page.request.get("/api/v1/me")).json();
  const org = me.organizations[0].id;
  const saved = await page.request.post(`/api/v1/governance/policies?org=${org}`, {
    data: { document: {
      rate_limits: { ingest: { per_second: 1, burst: 3 }, monthly_spans: 1000 },
      budgets: [{ id: "team", monthly_usd: "0.01", hard: true }],
    } },
    headers: { Origin: baseURL! },
  });
  expect(saved.status()).toBe(201);

  // Model calls that cost more than the budget, sent with an ingest token.
  const ingest = await act.mintToken(page, baseURL!, ["ingest"]);
  const now = BigInt(Date.now()) * 1_000_000n;
  const chat = (n: number) => ({
    traceId: "e".repeat(31) + n.toString(16), spanId: "e".repeat(15) + n.toString(16),
    name: "chat gpt-4o", kind: 3,
    startTimeUnixNano: now.toString(), endTimeUnixNano: (now + 500_000_000n).toString(),
    attributes: [
      { key: "gen_ai.operation.name", value: { stringValue: "chat" } },
      { key: "gen_ai.request.model", value: { stringValue: "gpt-4o" } },
      { key: "gen_ai.usage.input_tokens", value: { intValue: "20000" } },
      { key: "gen_ai.usage.output_tokens", value: { intValue: "1000" } },
    ],
  });
  const send = (numbers: number[]) => page.request.post("/v1/traces", {
    headers: { Authorization: `Bearer ${ingest}`, "Content-Type": "application/json" },
    data: { resourceSpans: [{
      resource: { attributes: [{ key: "service.name", value: { stringValue: "support-bot" } }] },
      scopeSpans: [{ spans: numbers.map(chat) }],
    }] },
  });
  // Three spans empty the three-span bucket; the next export, within the second it takes to refill, is refused.
  const first = await send([1, 2, 3]);
  expect(first.status()).toBe(200);
  expect(first.headers()["ratelimit-policy"]).toContain('"org-ingest";q=3;w=3;qu="span"');
  const refused = await send([4]);
  expect(refused.status()).toBe(429);
  expect(Number(refused.headers()["retry-after"])).toBeGreaterThanOrEqual(1);

  // Counts reach the page within a second or two.
  const card = page.getByTestId("limits-card");
  await expect.poll(async () => {
    await act.openHydrated(page, "/costs");
    return await card.textContent();
  }, { timeout: 15_000 }).toContain("1 exports over a rate limit");
  await expect(card).toContainText("3 of 1,000 spans this month");
  await expect(card).toContainText("1 spans/s, burst 3");
  const budget = card.getByTestId("budget");
  await expect(budget).toContainText("team");
  await expect(budget).toContainText("hard");
  await expect(budget).toContainText("of $0.01");
  await expect(budget).toContainText("past 100%");
  await expect(budget.getByRole("meter")).toBeVisible();
});
