import { expect, test } from "@playwright/test";
import { act, check, find } from "./fixtures";

test("home page arrives server-rendered", async ({ page }) => {
  // With JavaScript off, what the user sees is exactly the server's HTML.
  await page.context().route("**/pkg/specula-*.js", (route) => route.abort());
  await page.goto("/");
  await expect(page).toHaveTitle("Specula");
  await expect(find.heading(page)).toHaveText("See every model call your agents make");
  await expect(page.getByTestId("otlp-http-endpoint")).toHaveText(/\/v1\/traces$/);
  for (const section of ["Spans", "Traces", "Costs", "Policies", "Settings"]) {
    await expect(find.navLink(page, section)).toBeVisible();
  }
  await expect(page.locator("html")).not.toHaveAttribute("data-hydrated", "true");
});

test("the page hydrates without console errors", async ({ page }) => {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  await act.openHydrated(page, "/");
  expect(errors).toEqual([]);
});

test("theme toggle switches the theme and remembers it", async ({ page }) => {
  await page.emulateMedia({ colorScheme: "light" });
  await act.openHydrated(page, "/");
  await check.theme(page, "light");

  await find.themeToggle(page).click();
  await check.theme(page, "dark");
  expect(await page.evaluate(() => localStorage.getItem("specula.theme"))).toBe("dark");

  // The choice survives a reload, applied before hydration.
  await page.reload();
  await check.theme(page, "dark");

  await act.openHydrated(page, "/");
  await find.themeToggle(page).click();
  await check.theme(page, "light");
});

test("navigation moves between sections on the client", async ({ page }) => {
  await act.openHydrated(page, "/");
  await find.navLink(page, "Policies").click();
  await expect(page).toHaveURL(/\/policies$/);
  await expect(find.heading(page)).toHaveText("Policies");
  await expect(page).toHaveTitle("Policies · Specula");
  await expect(find.navLink(page, "Policies")).toHaveAttribute("aria-current", "page");
  await expect(page.getByText("Every save is a new version.", { exact: false })).toBeVisible();
});

test("unknown paths show the 404 page inside the shell", async ({ page }) => {
  const response = await page.goto("/definitely/missing");
  expect(response?.status()).toBe(404);
  await expect(page.getByTestId("not-found")).toContainText("Page not found");
  await check.hydrated(page);
  await page.getByRole("link", { name: "Back to the overview" }).click();
  await expect(page).toHaveURL(/\/$/);
});

test("the footer leads to the REST API reference, which lists the operations", async ({ page }) => {
  await act.openHydrated(page, "/");
  await page.getByRole("link", { name: "REST API reference" }).click();
  await expect(page).toHaveURL(/\/api\/docs\//);
  // Swagger UI (served from the binary) renders the generated document.
  await expect(page.locator(".opblock-summary-path", { hasText: /^\/api\/v1\/spans$/ })).toBeVisible();
  await expect(page.locator(".opblock-summary-path", { hasText: /^\/v1\/traces$/ })).toBeVisible();
  await expect(page.getByText("Specula API", { exact: false }).first()).toBeVisible();
});
