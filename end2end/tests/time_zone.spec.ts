import { expect, test } from "@playwright/test";
import { act } from "./fixtures";

test.use({ timezoneId: "Europe/Berlin" });

test("times show in the browser's time zone, and UTC is one click away", async ({ page }) => {
  await act.signUpWithTestTrace(page, "zone");
  await act.openHydrated(page, "/traces");
  const table = page.getByTestId("trace-table");
  await expect(table.locator("th").first()).toHaveText("Started (Europe/Berlin)");
  const cell = table.locator("tbody tr td").first();
  const berlin = (await cell.textContent()) ?? "";
  // What the browser itself says the time is in Berlin, to the minute.
  const expected = await page.evaluate((shown) => {
    const utc = new Date(Date.parse(shown.replace(" ", "T") + "Z"));
    return utc.getTimezoneOffset();
  }, berlin);
  expect([-60, -120]).toContain(expected);

  const toggle = page.getByTestId("zone-toggle");
  await expect(toggle).toHaveText("Europe/Berlin");
  await toggle.click();
  await expect(toggle).toHaveText("UTC");
  await expect(table.locator("th").first()).toHaveText("Started (UTC)");
  const utc = (await cell.textContent()) ?? "";
  const hours = (text: string) => Number(text.slice(11, 13));
  expect((hours(berlin) - hours(utc) + 24) % 24).toBe(-expected / 60);

  // Back to Berlin, now formatted by the browser: the same text the server rendered.
  await toggle.click();
  await expect(toggle).toHaveText("Europe/Berlin");
  await expect(cell).toHaveText(berlin);
  // The choice is kept with the account.
  await act.openHydrated(page, "/traces");
  await expect(page.getByTestId("zone-toggle")).toHaveText("Europe/Berlin");
});
