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
