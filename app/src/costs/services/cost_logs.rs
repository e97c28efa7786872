//! The cost log: every span that used a model, with its tokens and cost,
//! newest first. It is the spans explorer's paged read narrowed to spans
//! with usage, so it shares that read's filters and keyset cursor.

use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::{
    costs::types::{CostLogEntry, CostLogPage, CostLogQuery},
    error::{AppError, Result},
    format::{push_csv_row, usd_exact},
    telemetry::{
        services::span_store::{self, UsageSpans},
        types::{SpanQuery, SpanSummary},
    },
};

/// Page size limit for JSON pages.
const MAX_PAGE: u64 = 500;
/// Page size limit for a CSV export.
pub const MAX_CSV_ROWS: u64 = 10_000;

/// The output a cost-log request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CostLogFormat {
    Json,
    Csv,
}

impl CostLogFormat {
    pub fn parse(text: Option<&str>) -> Result<Self> {
        match text.unwrap_or("json") {
            "json" | "" => Ok(Self::Json),
            "csv" => Ok(Self::Csv),
            other => Err(AppError::BadRequest(format!(
                "`format` must be json or csv, got {other:?}"
            ))),
        }
    }
}

/// One page of `org_id`'s cost log.
pub async fn list(db: &DatabaseConnection, org_id: Uuid, query: &CostLogQuery) -> Result<CostLogPage> {
    let format = CostLogFormat::parse(query.format.as_deref())?;
    let which = match query.unpriced.as_deref() {
        None | Some("") | Some("false") => UsageSpans::All,
        Some("true") => UsageSpans::Unpriced,
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "`unpriced` must be true or false, got {other:?}"
            )));
        }
    };
    let span_query = SpanQuery {
        model: query.model.clone(),
        provider: query.provider.clone(),
        service: query.service.clone(),
        trace_id: query.trace_id.clone(),
        since: query.since.clone(),
        until: query.until.clone(),
        limit: query.limit.clone(),
        cursor: query.cursor.clone(),
        ..Default::default()
    };
    let max = match format {
        CostLogFormat::Json => MAX_PAGE,
        CostLogFormat::Csv => MAX_CSV_ROWS,
    };
    let page = span_store::list_usage_spans(db, org_id, &span_query, which, max).await?;
    Ok(CostLogPage {
        entries: page.spans.into_iter().map(entry).collect(),
        next_cursor: page.next_cursor,
    })
}

fn entry(span: SpanSummary) -> CostLogEntry {
    CostLogEntry {
        time_ns: span.start_time_ns,
        trace_id: span.trace_id,
        span_id: span.span_id,
        name: span.name,
        llm_kind: span.llm_kind,
        model: span.model,
        provider: span.provider,
        service: span.service_name,
        input_tokens: span.tokens.input,
        output_tokens: span.tokens.output,
        cache_read_tokens: span.tokens.cache_read,
        cache_write_tokens: span.tokens.cache_write,
        reasoning_tokens: span.tokens.reasoning,
        cost_nanos: span.cost_nanos,
        unpriced: span.unpriced,
    }
}

/// The page as CSV, one line per span; cost in exact nano-dollars and in
/// dollars, times as RFC 3339.
pub fn to_csv(page: &CostLogPage) -> String {
    let mut out = String::from(
        "time,trace_id,span_id,name,kind,model,provider,service,input_tokens,output_tokens,\
         cache_read_tokens,cache_write_tokens,reasoning_tokens,cost_nanos,cost_usd,unpriced\r\n",
    );
    let number = |value: Option<i64>| value.map(|value| value.to_string()).unwrap_or_default();
    for entry in &page.entries {
        let time = chrono::DateTime::from_timestamp_nanos(entry.time_ns)
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let fields = [
            time,
            entry.trace_id.clone(),
            entry.span_id.clone(),
            entry.name.clone(),
            entry.llm_kind.clone(),
            entry.model.clone().unwrap_or_default(),
            entry.provider.clone().unwrap_or_default(),
            entry.service.clone(),
            number(entry.input_tokens),
            number(entry.output_tokens),
            number(entry.cache_read_tokens),
            number(entry.cache_write_tokens),
            number(entry.reasoning_tokens),
            number(entry.cost_nanos),
            entry.cost_nanos.map(usd_exact).unwrap_or_default(),
            entry.unpriced.to_string(),
        ];
        push_csv_row(&mut out, &fields);
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_are_exact_decimals() {
        assert_eq!(usd_exact(0), "0.000000000");
        assert_eq!(usd_exact(1_234_567_890_123), "1234.567890123");
        assert_eq!(usd_exact(-5), "-0.000000005");
    }

    #[test]
    fn csv_has_a_header_and_one_line_per_entry() {
        let page = CostLogPage {
            entries: vec![CostLogEntry {
                time_ns: 1_700_000_000_000_000_000,
                trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
                span_id: "b7ad6b7169203331".into(),
                name: "chat gpt-4o, retried".into(),
                llm_kind: "request".into(),
                model: Some("gpt-4o".into()),
                provider: Some("openai".into()),
                service: "agent".into(),
                input_tokens: Some(1200),
                output_tokens: Some(300),
                cache_read_tokens: None,
                cache_write_tokens: None,
                reasoning_tokens: None,
                cost_nanos: Some(6_000_000),
                unpriced: false,
            }],
            next_cursor: None,
        };
        let csv = to_csv(&page);
        let lines: Vec<&str> = csv.split("\r\n").filter(|line| !line.is_empty()).collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("time,trace_id,span_id,"));
        assert_eq!(
            lines[1],
            "2023-11-14T22:13:20.000000000Z,0af7651916cd43dd8448eb211c80319c,b7ad6b7169203331,\
             \"chat gpt-4o, retried\",request,gpt-4o,openai,agent,1200,300,,,,6000000,0.006000000,false"
        );
    }

    #[test]
    fn the_format_is_json_or_csv() {
        assert_eq!(CostLogFormat::parse(None).unwrap(), CostLogFormat::Json);
        assert_eq!(CostLogFormat::parse(Some("csv")).unwrap(), CostLogFormat::Csv);
        assert!(CostLogFormat::parse(Some("xml")).is_err());
    }
}
