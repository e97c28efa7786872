//! An organization moved between installations (`specula admin
//! export-org` / `import-org`) as JSON lines: a header naming it, its policy
//! versions oldest first, its price overrides, then its spans as OTLP/JSON
//! export requests of up to 500 spans each, one per line, so that any OTLP
//! receiver can take those lines as they are.
//!
//! Spans are exported as stored, after the organization's policy; the
//! import stores them as they come (no second redaction, sampling or size
//! limit), priced with the imported prices, through the ingest writer, so
//! traces, usage rollups and the search index are built as at ingest.

use std::io::{BufRead, Write};

use app::{
    accounts::services::orgs,
    costs::{services::price_book::PriceBook, services::prices, types::PriceOverrideInput},
    governance::{
        services::{book::PolicyBook, limits::InstallationLimits, policies},
        types::{NewPolicyVersion, PolicyDocument},
    },
    platform::services::{audit::Actor, now_ns, rfc3339},
    telemetry::services::{
        ingest::{self, policy::IngestPolicy, writer::IngestWriter},
        span::marks::ContentCapture,
        span_store,
    },
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    convert::convert,
    decode::{decode, prepare_trace_json},
    encode::spans_to_otlp,
    encoding::Encoding,
};

/// The format's version, in the header line.
const FORMAT: u64 = 1;
const HEADER: &str = "specula_organization_export";
/// Spans per line.
const SPANS_PER_LINE: u64 = 500;

/// What an export or an import moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Moved {
    pub policy_versions: u64,
    pub prices: u64,
    pub spans: u64,
}

/// Writes organization `org_id` to `out`.
pub async fn export_org(
    db: &DatabaseConnection,
    org_id: Uuid,
    out: &mut impl Write,
) -> anyhow::Result<Moved> {
    let name = orgs::name(db, org_id).await?;
    let mut moved = Moved::default();
    writeln!(
        out,
        "{}",
        json!({HEADER: FORMAT, "organization": {"id": org_id, "name": name}, "exported_at": rfc3339(now_ns())})
    )?;
    let mut versions = policies::versions(db, org_id).await?;
    versions.sort_by_key(|version| version.version);
    for summary in versions.iter().filter(|summary| summary.version > 0) {
        let version = policies::version(db, org_id, summary.version).await?;
        writeln!(
            out,
            "{}",
            json!({"policy_version": {"version": version.version, "comment": version.comment, "document": version.document}})
        )?;
        moved.policy_versions += 1;
    }
    let overrides = prices::list(db, org_id).await?.overrides;
    if !overrides.is_empty() {
        let inputs: Vec<Value> = overrides
            .iter()
            .map(|price| {
                json!({
                    "model": price.model,
                    "provider": price.provider,
                    "input_usd_per_mtok": price.input_usd_per_mtok,
                    "output_usd_per_mtok": price.output_usd_per_mtok,
                    "cache_read_usd_per_mtok": price.cache_read_usd_per_mtok,
                    "cache_write_usd_per_mtok": price.cache_write_usd_per_mtok,
                    "reasoning_usd_per_mtok": price.reasoning_usd_per_mtok,
                    "effective_from": price.effective_from,
                    "note": price.note,
                })
            })
            .collect();
        moved.prices = inputs.len() as u64;
        writeln!(out, "{}", json!({ "prices": inputs }))?;
    }
    let mut after = 0;
    loop {
        let spans = span_store::spans_to_forward(db, org_id, (after, i64::MAX), &[], SPANS_PER_LINE).await?;
        let Some(last) = spans.last() else { break };
        after = last.row_id;
        moved.spans += spans.len() as u64;
        let request = spans_to_otlp(spans.iter().map(|span| &span.view));
        serde_json::to_writer(&mut *out, &request)?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(moved)
}

/// Reads an export from `input` into a new organization owned by `owner`
/// (named as in the export unless `name` is given); its id and what moved.
pub async fn import_org(
    db: &DatabaseConnection,
    writer: &IngestWriter,
    owner: &Actor,
    name: Option<&str>,
    input: impl BufRead,
) -> anyhow::Result<(Uuid, Moved)> {
    let mut lines = input.lines();
    let header: Value = serde_json::from_str(
        &lines
            .next()
            .ok_or_else(|| anyhow::anyhow!("the file is empty"))??,
    )?;
    anyhow::ensure!(
        header[HEADER] == FORMAT,
        "not a Specula organization export (version {FORMAT}): its first line is {header}"
    );
    let exported_name = header["organization"]["name"]
        .as_str()
        .unwrap_or("Imported organization");
    let org = orgs::create(db, owner, name.unwrap_or(exported_name)).await?;
    let book = PolicyBook::new(IngestPolicy::default(), InstallationLimits::default());
    let price_book = PriceBook::default();
    // The spans were through their organization's policy already: stored as they come.
    let as_exported = IngestPolicy {
        capture: ContentCapture::Full,
        redact_secrets: false,
        max_value_bytes: usize::MAX,
        ..IngestPolicy::default()
    };
    let mut moved = Moved::default();
    for (index, line) in lines.enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("line {}", index + 2);
        let value: Value = serde_json::from_str(&line).map_err(|err| anyhow::anyhow!("{}: {err}", at()))?;
        if let Some(version) = value.get("policy_version") {
            let document: PolicyDocument = serde_json::from_value(version["document"].clone())
                .map_err(|err| anyhow::anyhow!("{}: the policy: {err}", at()))?;
            let comment = version["comment"].as_str().unwrap_or_default().to_owned();
            policies::save(db, &book, org.id, owner, NewPolicyVersion { document, comment }).await?;
            moved.policy_versions += 1;
        } else if let Some(list) = value.get("prices") {
            let inputs: Vec<PriceOverrideInput> = serde_json::from_value(list.clone())
                .map_err(|err| anyhow::anyhow!("{}: the prices: {err}", at()))?;
            prices::replace_all(db, &price_book, org.id, owner, &inputs).await?;
            moved.prices = inputs.len() as u64;
        } else if value.get("resourceSpans").is_some() {
            let request: ExportTraceServiceRequest =
                decode(Encoding::Json, line.as_bytes(), prepare_trace_json)
                    .map_err(|err| anyhow::anyhow!("{}: {err}", at()))?;
            let converted = convert(request);
            anyhow::ensure!(
                converted.rejected == 0,
                "{}: {} spans unreadable ({})",
                at(),
                converted.rejected,
                converted.first_error.unwrap_or_default()
            );
            let pricing = price_book.for_org(db, org.id).await?;
            let policy = as_exported.clone();
            let prepared = writer
                .run_cpu_bound(move || ingest::prepare(converted.spans, &policy, &pricing))
                .await?;
            moved.spans += prepared.rows.len() as u64;
            writer
                .write(org.id, None, prepared)
                .await
                .map_err(|err| anyhow::anyhow!("{}: storing the spans: {err}", at()))?;
        } else {
            anyhow::bail!("{}: not a part of an organization export", at());
        }
    }
    Ok((org.id, moved))
}
