// Helpers split by role: finding elements, acting on the page, checking state.
import { expect, type Page } from "@playwright/test";

export const find = {
  themeToggle: (page: Page) => page.getByTestId("theme-toggle"),
  navLink: (page: Page, name: string) =>
    page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name }),
  heading: (page: Page) => page.getByRole("heading", { level: 1 }),
  accountLink: (page: Page) => page.getByTestId("account-link"),
};

export const act = {
  /** Opens `path` and waits until the wasm bundle has hydrated the page. */
  async openHydrated(page: Page, path: string) {
    await page.goto(path);
    await check.hydrated(page);
  },
  /** Signs up a new user (email starting with `prefix`) and sends the demo
   * agent trace through the real ingest path. */
  async signUpWithTestTrace(page: Page, prefix: string) {
    const email = `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
    await act.openHydrated(page, "/signup");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("correct horse battery staple");
    await page.getByRole("button", { name: "Sign up" }).click();
    await expect(page).toHaveURL(/\/spans$/);
    await page.getByTestId("send-test-trace").click();
    await expect(page.getByTestId("test-trace-id")).toContainText(/[0-9a-f]{32}/);
  },
  /** Mints an API token with `scopes` for the signed-in user's organization,
   * through the API with the browser's session; returns its secret. */
  async mintToken(page: Page, baseURL: string, scopes: string[]): Promise<string> {
    const me = await (await page.request.get("/api/v1/me")).json();
    const org = me.organizations[0].id;
    const minted = await page.request.post(`/api/v1/orgs/${org}/tokens`, {
      data: { name: scopes.join("+"), scopes },
      headers: { Origin: baseURL },
    });
    expect(minted.status()).toBe(201);
    return (await minted.json()).secret;
  },
};

export const check = {
  async hydrated(page: Page) {
    // Set by the wasm entry point once hydration has attached the event handlers.
    await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true", { timeout: 20_000 });
  },
  async theme(page: Page, expected: "light" | "dark") {
    await expect(page.locator("html")).toHaveAttribute("data-theme", expected);
  },
};
