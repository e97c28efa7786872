//! Times on the pages: in the browser's time zone (which it names in a
//! cookie) by default, in UTC once the user chooses it, on every device;
//! the tables' and charts' titles and the CSV headers name the zone. On
//! SQLite and PostgreSQL.

use crate::common;

use std::sync::Arc;

use common::{Backend, TestServer, export, post_otlp, signed_in_tenant, span};
use leptos::server_fn::ServerFn;
use reqwest::{StatusCode, cookie::Jar, header};
use serde_json::json;

on_every_backend!(times_show_in_the_browsers_zone_or_in_utc_when_chosen);

/// 2026-01-15T12:00:00Z: 13:00 in Berlin (winter time).
const NOON_UTC: i64 = 1_768_478_400_000_000_000;

async fn times_show_in_the_browsers_zone_or_in_utc_when_chosen(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, org, token) = signed_in_tenant(&server, "ada@example.com", &["ingest"]).await;
    let call = span(
        "0123456789abcdef0123456789abcdef",
        "0123456789abcdef",
        None,
        "chat gpt-4o",
        (NOON_UTC, 1_000_000_000),
        false,
        json!({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
               "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10}),
    );
    // And one at 23:30 UTC, which is already the next day in Berlin.
    let late = span(
        "0123456789abcdef0123456789abcdee",
        "0123456789abcdee",
        None,
        "chat gpt-4o",
        (NOON_UTC + 41_400_000_000_000, 1_000_000_000),
        false,
        json!({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
               "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 10}),
    );
    // And one late on Sunday 18 January UTC: Monday in Berlin, a new week.
    let sunday_night = span(
        "0123456789abcdef0123456789abcded",
        "0123456789abcded",
        None,
        "chat gpt-4o",
        (
            NOON_UTC + (3 * 24 + 11) * 3_600_000_000_000 + 1_800_000_000_000,
            1_000_000_000,
        ),
        false,
        json!({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
               "gen_ai.usage.input_tokens": 10000, "gen_ai.usage.output_tokens": 10}),
    );
    let response = post_otlp(
        &server,
        "/v1/traces",
        &token,
        "application/json",
        export("coder", vec![call, late, sunday_night]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);

    // A browser in Berlin, as its boot script names the zone.
    let jar = Arc::new(Jar::default());
    let base: reqwest::Url = server.url("/").parse().unwrap();
    jar.add_cookie_str("specula_tz=Europe%2FBerlin; Path=/", &base);
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    let logged_in = client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"email": "ada@example.com", "password": common::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(logged_in.status(), StatusCode::OK);
    let page = |path: &'static str| {
        let client = client.clone();
        let url = server.url(path);
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let costs = "/costs?range=custom&since=2026-01-15T00:00&until=2026-01-16T00:00";

    let traces = page("/traces?range=all").await;
    assert!(traces.contains("Started (Europe/Berlin)"), "{traces}");
    assert!(traces.contains("2026-01-15 13:00:00.000"));
    // A custom window is read in the zone too: 12:59 to 13:01 Berlin holds the call.
    let window = "/traces?range=custom&since=2026-01-15T12:59&until=2026-01-15T13:01";
    assert!(
        page(window).await.contains("2026-01-15 13:00:00.000"),
        "the window is local time"
    );
    let chart = page(costs).await;
    assert!(
        chart.contains("Hour (Europe/Berlin)"),
        "the period column names the zone"
    );
    assert!(chart.contains("15 Jan 13:00"), "hours are labelled in the zone");
    assert!(
        chart.contains(&csv_header("Hour (Europe/Berlin)")),
        "the CSV names the zone"
    );
    // By day, the days are Berlin's: the late call counts on 16 January.
    let week = "/costs?range=custom&since=2026-01-12T00:00&until=2026-01-19T00:00";
    let tokens = day_rows(&page(week).await, "Day (Europe/Berlin)");
    assert_eq!(
        tokens.get("15 Jan").map(String::as_str),
        Some("100"),
        "{tokens:?}"
    );
    assert_eq!(
        tokens.get("16 Jan").map(String::as_str),
        Some("1000"),
        "{tokens:?}"
    );
    // Over 90 days the buckets are Berlin's Monday weeks.
    let months = "/costs?range=custom&since=2025-11-03T00:00&until=2026-02-16T00:00";
    let tokens = day_rows(&page(months).await, "Week (Europe/Berlin)");
    assert_eq!(
        tokens.get("w/c 12 Jan").map(String::as_str),
        Some("1100"),
        "{tokens:?}"
    );
    assert_eq!(
        tokens.get("w/c 19 Jan").map(String::as_str),
        Some("10000"),
        "{tokens:?}"
    );

    // A price's effective time is entered and shown in Berlin time, and stored as the instant.
    let saved = client
        .post(server.url(app::costs::server_fns::SavePrice::PATH))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(format!(
            "org_id={org}&model=acme-llm&input_usd_per_mtok=1&output_usd_per_mtok=2&effective_from=2026-01-15T13%3A00"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::OK, "{}", saved.text().await.unwrap());
    let prices: serde_json::Value = client
        .get(server.url(&format!("/api/v1/orgs/{org}/prices")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored = prices["overrides"][0]["effective_from"].as_str().unwrap();
    assert!(stored.starts_with("2026-01-15T12:00:00"), "{stored}");
    assert!(
        page("/costs/prices")
            .await
            .contains("2026-01-15 13:00:00 Europe/Berlin")
    );

    // One click: UTC, kept with the account.
    let chosen = client
        .post(server.url(app::accounts::server_fns::session::SetTimesInUtc::PATH))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body("utc=true")
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.status(), StatusCode::OK);
    let traces = page("/traces?range=all").await;
    assert!(traces.contains("Started (UTC)"));
    assert!(traces.contains("2026-01-15 12:00:00.000"));
    assert!(
        !page(window).await.contains("2026-01-15 12:00:00.000"),
        "now the window is UTC"
    );
    let chart = page(costs).await;
    assert!(chart.contains("Hour (UTC)") && chart.contains("15 Jan 12:00"));
    let tokens = day_rows(&page(week).await, "Day (UTC)");
    assert_eq!(
        tokens.get("15 Jan").map(String::as_str),
        Some("1100"),
        "{tokens:?}"
    );
    let tokens = day_rows(&page(months).await, "Week (UTC)");
    assert_eq!(
        tokens.get("w/c 12 Jan").map(String::as_str),
        Some("11100"),
        "{tokens:?}"
    );

    // Another device of the same user (no zone cookie at all) shows UTC too,
    // and a browser that names a zone nobody knows gets UTC.
    let elsewhere = server.browser();
    assert_eq!(
        elsewhere
            .log_in("ada@example.com", common::PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    assert!(
        elsewhere
            .get("/traces?range=all")
            .await
            .text()
            .await
            .unwrap()
            .contains("Started (UTC)")
    );
    server.stop().await;
}

/// The fresh-input column of the Tokens chart's CSV, by day label, from
/// the CSV whose period column is `title`.
fn day_rows(html: &str, title: &str) -> std::collections::HashMap<String, String> {
    let header = format!("{title},Input,");
    let csv = common::csv_downloads(html)
        .into_iter()
        .find(|csv| csv.starts_with(&header))
        .unwrap_or_else(|| panic!("no Tokens CSV titled {title}"));
    csv.lines()
        .skip(1)
        .filter_map(|line| {
            let mut cells = line.split(',');
            Some((cells.next()?.to_owned(), cells.next()?.to_owned()))
        })
        .collect()
}

/// The CSV download's first line as the page embeds it (a data URL).
fn csv_header(title: &str) -> String {
    title
        .replace(' ', "%20")
        .replace('(', "%28")
        .replace(')', "%29")
        .replace('/', "%2F")
}
