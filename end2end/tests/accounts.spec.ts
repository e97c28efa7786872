import { expect, test } from "@playwright/test";
import { act, find } from "./fixtures";

const PASSWORD = "correct horse battery staple";

function uniqueEmail(tag: string) {
  return `${tag}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

test("sign up, mint a token into the snippets, log out, log back in", async ({ page }) => {
  const email = uniqueEmail("e2e");
  await act.openHydrated(page, "/signup");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();

  // New accounts land on the configuration card.
  await expect(page).toHaveURL(/\/spans$/);
  await expect(page.getByTestId("send-traces")).toBeVisible();
  await expect(find.accountLink(page)).toHaveText(email);

  await page.getByTestId("mint-ingest-token").click();
  const tokenInput = page.getByTestId("token-input");
  await expect(tokenInput).toHaveValue(/^spk_[A-Za-z0-9]{32}$/);
  const token = await tokenInput.inputValue();
  await expect(page.getByTestId("snippet")).toContainText(`Authorization=Bearer%20${token}`);
  await page.getByRole("tab", { name: "Python" }).click();
  await expect(page.getByTestId("snippet")).toContainText(`"Authorization": "Bearer ${token}"`);
  await page.getByRole("tab", { name: "Rust" }).click();
  await expect(page.getByTestId("snippet")).toContainText(`Bearer ${token}`);

  // The token is listed by its prefix only.
  await page.goto("/settings/tokens");
  await expect(page.getByTestId("tokens")).toContainText(token.slice(0, 12));
  await expect(page.getByTestId("tokens")).not.toContainText(token.slice(12));

  await page.getByTestId("log-out").click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(find.accountLink(page)).toHaveCount(0);

  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByTestId("form-error")).toHaveText("wrong email or password");

  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(find.accountLink(page)).toHaveText(email);
});

test("signed-out visitors are asked to sign in and come back afterwards", async ({ page }) => {
  const email = uniqueEmail("next");
  const signup = await page.request.post("/api/v1/auth/signup", { data: { email, password: PASSWORD } });
  expect(signup.status()).toBe(201);
  await page.context().clearCookies();

  await act.openHydrated(page, "/settings/tokens");
  await expect(page.getByTestId("sign-in-prompt")).toBeVisible();
  await page.getByRole("link", { name: "Log in" }).last().click();
  await expect(page).toHaveURL(/\/login\?next=\/settings\/tokens$/);
  await check_hydrated_then_log_in(page, email);
  await expect(page).toHaveURL(/\/settings\/tokens$/);
  await expect(page.getByRole("heading", { name: "Mint a token" })).toBeVisible();
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the log-in form still works", async ({ page }) => {
    const email = uniqueEmail("nojs");
    const signup = await page.request.post("/api/v1/auth/signup", { data: { email, password: PASSWORD } });
    expect(signup.status()).toBe(201);
    await page.context().clearCookies();

    await page.goto("/login?next=/account");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.getByTestId("account-email")).toHaveText(email);
  });
});

async function check_hydrated_then_log_in(page: import("@playwright/test").Page, email: string) {
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
}

test("the configuration card waits for spans, then sees the test trace arrive", async ({ page }) => {
  const email = uniqueEmail("demo");
  await act.openHydrated(page, "/signup");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page).toHaveURL(/\/spans$/);

  const status = page.getByTestId("ingest-status");
  await expect(status).toContainText("Waiting for the first span");
  await page.getByTestId("send-test-trace").click();
  await expect(page.getByTestId("test-trace-id")).toContainText(/[0-9a-f]{32}/);
  await expect(status).toContainText(/Last span received \d+ s ago/);

  // The demo trace is readable through the API with the user's session.
  const traceId = (await page.getByTestId("test-trace-id").locator("code").textContent())!.trim();
  const trace = await page.request.get(`/api/v1/traces/${traceId}`);
  expect(trace.status()).toBe(200);
  const body = await trace.json();
  expect(body.trace.span_count).toBe(6);
  expect(body.spans.map((span: { llm_kind: string }) => span.llm_kind)).toEqual([
    "agent", "request", "tool_call", "tool_result", "request", "response",
  ]);
});

test("settings forms lay their fields out in a row from the card's left edge", async ({ page }) => {
  await act.signUpWithTestTrace(page, "forms");
  for (const [path, heading, field] of [
    ["/settings", "Invite someone", "Email"],
    ["/settings", "New organization", "Name"],
    ["/settings/tokens", "Mint a token", "Name"],
  ]) {
    await act.openHydrated(page, path);
    const card = page.locator("section.card").filter({ has: page.getByRole("heading", { name: heading }) });
    const title = (await card.getByRole("heading", { name: heading }).boundingBox())!;
    const input = (await card.getByLabel(field, { exact: true }).boundingBox())!;
    const submit = (await card.getByRole("button").last().boundingBox())!;
    expect(Math.abs(input.x - title.x), `${heading}: the first field starts under the title`).toBeLessThan(2);
    expect(submit.x, `${heading}: the button follows the fields in the same row`).toBeGreaterThan(input.x + input.width);
  }
});
