import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { expect, test } from "@playwright/test";
import { act } from "./fixtures";

type Received = { headers: IncomingHttpHeaders; body: string };

/** A real HTTP server standing in for the team's webhook receiver. */
async function startReceiver() {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      received.push({ headers: request.headers, body });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, received, close: () => server.close() };
}

/** The check the README documents: HMAC-SHA256 of `<t>.<body>` under the secret. */
function verified(request: Received, secret: string): boolean {
  const header = String(request.headers["x-specula-signature"] ?? "");
  const parts = Object.fromEntries(header.split(",").map((part) => part.split("=", 2)));
  const expected = createHmac("sha256", secret).update(`${parts.t}.${request.body}`).digest();
  const given = Buffer.from(parts.v1 ?? "", "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

test("an owner adds a webhook and a rule on the Alerts page; the rule fires, signed, and is silenced", async ({ page }) => {
  const receiver = await startReceiver();
  try {
    await act.signUpWithTestTrace(page, "alerts");
    await act.openHydrated(page, "/alerts");
    await expect(page.getByTestId("alert-rules")).toContainText("No rules yet");

    // The channel; the page then shows its signing secret.
    const form = page.getByTestId("alert-channel-form");
    await form.getByLabel("Name").fill("On-call hook");
    await form.getByLabel("URL (webhook, Slack)").fill(receiver.url);
    await form.getByRole("button", { name: "Add channel" }).click();
    const secret = (await page.getByTestId("signing-secret").locator("pre").textContent())!.trim();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9]{40}$/);

    // "Send test" reaches the receiver, signed with that secret.
    const channels = page.getByTestId("alert-channels");
    await channels.getByRole("button", { name: "Send test" }).click();
    await expect(channels.getByTestId("channel-status")).toContainText("delivered");
    expect(receiver.received).toHaveLength(1);
    expect(verified(receiver.received[0], secret)).toBe(true);
    expect(JSON.parse(receiver.received[0].body).test).toBe(true);

    // A rule on a service that sends nothing fires at the next pass.
    const ruleForm = page.getByTestId("alert-rule-form");
    await ruleForm.getByLabel("Name").fill("Nightly job silent");
    await ruleForm.getByLabel("When").selectOption("silent_service");
    await ruleForm.getByLabel("X (the threshold)").fill("1");
    await ruleForm.getByLabel("Service", { exact: true }).fill("nightly-job");
    await ruleForm.getByLabel("On-call hook (webhook)").check();
    await ruleForm.getByRole("button", { name: "Add rule" }).click();
    await expect(page.getByTestId("alert-rule-row")).toContainText("No span from nightly-job for 1 min");

    await expect(async () => {
      await page.reload();
      await expect(page.getByTestId("alert-event-row").first()).toContainText("Nightly job silent", { timeout: 1_000 });
    }).toPass({ timeout: 20_000 });
    await expect(page.getByTestId("rule-state")).toHaveText("firing");
    await expect(page.getByTestId("alert-event-row").first()).toContainText("sent");
    await expect.poll(() => receiver.received.length).toBe(2);
    const firing = JSON.parse(receiver.received[1].body);
    expect(firing.events[0]).toMatchObject({ kind: "firing", rule_name: "Nightly job silent" });
    expect(verified(receiver.received[1], secret)).toBe(true);

    // The history's link opens the spans the rule was about.
    await page.getByTestId("alert-event-row").first().getByRole("link", { name: "Open" }).click();
    await expect(page).toHaveURL(/\/spans\?service=nightly-job&since=/);

    // A silence for every rule, listed until it ends.
    await act.openHydrated(page, "/alerts");
    const silences = page.getByTestId("alert-silences");
    await silences.getByLabel("Why").fill("planned downtime");
    await silences.getByRole("button", { name: "Silence" }).click();
    await expect(page.getByTestId("silence-row")).toContainText("All rules");
    await expect(page.getByTestId("silence-row")).toContainText("planned downtime");
    await expect(page.getByTestId("alert-rule-row")).toContainText("silenced until");

    // Turned off, the rule stays listed and is not checked.
    await page.getByTestId("alert-rule-row").getByRole("button", { name: "Turn off" }).click();
    await expect(page.getByTestId("alert-rule-row")).toContainText("disabled");
    await expect(page.getByTestId("alert-rule-row").getByRole("button", { name: "Turn on" })).toBeVisible();
  } finally {
    receiver.close();
  }
});
