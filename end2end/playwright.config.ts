// Browser tests run against a real `specula serve` on a fresh SQLite file,
// in the machine's Chromium (Debian's package); Playwright never downloads one.
import { defineConfig } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const port = Number(process.env.SPECULA_E2E_PORT ?? 43187);
const baseURL = `http://127.0.0.1:${port}`;
const root = path.resolve(__dirname, "..");
const binary = process.env.SPECULA_E2E_BIN ?? path.join(root, "target/debug/specula");
const dataDir = mkdtempSync(path.join(tmpdir(), "specula-e2e-"));

export default defineConfig({
  testDir: "./tests",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [["list"]],
  timeout: 30_000,
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    {
      name: "chromium",
      use: {
        browserName: "chromium",
        launchOptions: {
          executablePath: process.env.SPECULA_E2E_CHROMIUM ?? "/usr/bin/chromium",
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
          ],
        },
      },
    },
  ],
  webServer: {
    command: `"${binary}" serve`,
    url: `${baseURL}/readyz`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      SPECULA_LISTEN: `127.0.0.1:${port}`,
      SPECULA_GRPC_LISTEN: "127.0.0.1:0",
      SPECULA_DATABASE_URL: `sqlite://${dataDir}/specula.db`,
      SPECULA_SITE_ROOT: path.join(root, "target/site"),
      SPECULA_LOG: process.env.SPECULA_E2E_LOG ?? "warn",
      // Alert rules checked every second; the tests' webhook receiver runs on loopback.
      SPECULA_ALERT_INTERVAL: "1s",
      SPECULA_ALERTS_ALLOW_PRIVATE_NETWORKS: "true",
      // The forwarding test's collector runs on loopback too.
      SPECULA_FORWARDING_ALLOW_PRIVATE_NETWORKS: "true",
    },
  },
});
