import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { expect, test } from "@playwright/test";
import { act } from "./fixtures";

type Received = { path: string; headers: IncomingHttpHeaders; body: Buffer };

/** A real HTTP server standing in for the team's OTLP/HTTP collector. */
async function startCollector() {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({ path: request.url ?? "", headers: request.headers, body: Buffer.concat(chunks) });
      // An empty ExportTraceServiceResponse: everything accepted.
      response.writeHead(200, { "Content-Type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received, close: () => server.close() };
}

test("an owner adds a forwarding destination, sends it a test span, and its spans follow", async ({ page, baseURL }) => {
  const collector = await startCollector();
  try {
    await act.signUpWithTestTrace(page, "forwarding");
    await act.openHydrated(page, "/settings/forwarding");

    const form = page.getByTestId("forward-destination-form");
    await form.getByLabel("Name").fill("Team collector");
    await form.getByLabel("Endpoint").fill(collector.url);
    await form.getByLabel("Headers, one per line (kept encrypted)").fill("Authorization: Bearer e2e-collector");
    await form.getByRole("button", { name: "Add destination" }).click();
    const row = page.getByTestId("forward-destination-row");
    await expect(row).toContainText("Team collector");
    await expect(row).toContainText(`${collector.url}/v1/traces`);
    await expect(row).toContainText("headers: authorization");
    await expect(page.locator("body")).not.toContainText("e2e-collector");

    // "Send test span" reaches the collector as OTLP/HTTP protobuf, with the header.
    await row.getByRole("button", { name: "Send test span" }).click();
    await expect(page.getByTestId("forward-test-result")).toContainText("Test span delivered to Team collector (HTTP 200)");
    expect(collector.received).toHaveLength(1);
    const test = collector.received[0];
    expect(test.path).toBe("/v1/traces");
    expect(test.headers["content-type"]).toBe("application/x-protobuf");
    expect(test.headers["content-encoding"]).toBe("gzip");
    expect(test.headers.authorization).toBe("Bearer e2e-collector");
    expect(gunzipSync(test.body).toString("latin1")).toContain("Specula forwarding test");

    // A span sent to Specula now is forwarded, and counted on the page.
    const token = await act.mintToken(page, baseURL!, ["ingest"]);
    const start = BigInt(Date.now()) * 1_000_000n;
    const sent = await page.request.post("/v1/traces", {
      data: {
        resourceSpans: [{
          resource: { attributes: [{ key: "service.name", value: { stringValue: "checkout" } }] },
          scopeSpans: [{ spans: [{
            traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", name: "chat forwarded",
            kind: 3, startTimeUnixNano: start.toString(), endTimeUnixNano: (start + 5_000_000n).toString(),
          }] }],
        }],
      },
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    });
    expect(sent.status()).toBe(200);
    await expect(async () => {
      await page.reload();
      await expect(page.getByTestId("forward-counts")).toContainText("1 forwarded · 0 waiting", { timeout: 1_000 });
    }).toPass({ timeout: 20_000 });
    expect(gunzipSync(collector.received[1].body).toString("latin1")).toContain("chat forwarded");
    await expect(page.getByTestId("forward-status")).toContainText("delivered");

    // Paused, it says so.
    await page.getByTestId("forward-destination-row").getByRole("button", { name: "Pause" }).click();
    await expect(page.getByTestId("forward-status")).toContainText("paused");
  } finally {
    collector.close();
  }
});
