//! Model prices and the cost of a span.
//!
//! The built-in table (`model_prices.csv`) holds USD per million tokens with
//! a source and date per row. Prices are parsed exactly into integer
//! micro-dollars per million tokens, and a span's cost is an integer number
//! of nano-dollars, so sums over spans, traces and days are exact.
//! A model without a price has *no* cost and is marked unpriced, never 0.

use std::{collections::HashMap, sync::LazyLock};

use serde::{Deserialize, Serialize};

use crate::telemetry::services::span::{cost::SpanCost, genai::TokenUsage};

/// Micro-dollars per million tokens: 2.50 USD/Mtok is 2 500 000.
pub type MicroUsdPerMtok = i64;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelPrice {
    pub provider: String,
    pub model: String,
    pub input: MicroUsdPerMtok,
    pub output: MicroUsdPerMtok,
    /// Cached input read; the input price when the provider gives none.
    pub cache_read: Option<MicroUsdPerMtok>,
    /// Cache creation; the input price when the provider gives none.
    pub cache_write: Option<MicroUsdPerMtok>,
    /// Reasoning output, where it differs from the output price.
    pub reasoning: Option<MicroUsdPerMtok>,
    pub source: String,
    pub date: String,
}

#[derive(Debug, Default)]
pub struct PricingTable {
    by_model: HashMap<String, ModelPrice>,
}

static BUILTIN: LazyLock<PricingTable> = LazyLock::new(|| {
    PricingTable::parse(include_str!("model_prices.csv")).expect("the built-in price table is valid")
});

/// Why a text is not a price (USD per million tokens, at most 6 decimals).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    #[error("{0:?} is not a price with at most 6 decimals")]
    TooPrecise(String),
    #[error("{0:?} is not a price")]
    NotANumber(String),
    #[error("{0:?} is too large")]
    TooLarge(String),
}

/// Why a price table (CSV) does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PriceTableError {
    #[error("line {line}: expected 9 fields")]
    FieldCount { line: usize },
    #[error("line {line}: {source}")]
    Price { line: usize, source: PriceError },
}

/// Parses a decimal USD amount ("2.5", "0.075") into micro-dollars, exactly.
pub fn parse_micro_usd(text: &str) -> Result<MicroUsdPerMtok, PriceError> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.len() > 6 {
        return Err(PriceError::TooPrecise(text.to_owned()));
    }
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return Err(PriceError::NotANumber(text.to_owned()));
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| PriceError::TooLarge(text.to_owned()))?
    };
    let fraction: i64 = format!("{fraction:0<6}").parse().unwrap_or(0);
    whole
        .checked_mul(1_000_000)
        .and_then(|micro| micro.checked_add(fraction))
        .ok_or_else(|| PriceError::TooLarge(text.to_owned()))
}

impl PricingTable {
    pub fn builtin() -> &'static PricingTable {
        &BUILTIN
    }

    /// Parses `provider,model,input,output,cache_read,cache_write,reasoning,source,date` lines.
    pub fn parse(csv: &str) -> Result<Self, PriceTableError> {
        let mut by_model = HashMap::new();
        for (number, line) in csv.lines().enumerate().skip(1) {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let [
                provider,
                model,
                input,
                output,
                cache_read,
                cache_write,
                reasoning,
                source,
                date,
            ] = fields[..]
            else {
                return Err(PriceTableError::FieldCount { line: number + 1 });
            };
            let optional = |text: &str| (!text.is_empty()).then(|| parse_micro_usd(text)).transpose();
            let at = |source: PriceError| PriceTableError::Price {
                line: number + 1,
                source,
            };
            let price = ModelPrice {
                provider: provider.to_owned(),
                model: model.to_ascii_lowercase(),
                input: parse_micro_usd(input).map_err(at)?,
                output: parse_micro_usd(output).map_err(at)?,
                cache_read: optional(cache_read).map_err(at)?,
                cache_write: optional(cache_write).map_err(at)?,
                reasoning: optional(reasoning).map_err(at)?,
                source: source.to_owned(),
                date: date.to_owned(),
            };
            by_model.insert(price.model.clone(), price);
        }
        Ok(Self { by_model })
    }

    pub fn len(&self) -> usize {
        self.by_model.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_model.is_empty()
    }

    pub fn prices(&self) -> impl Iterator<Item = &ModelPrice> {
        self.by_model.values()
    }

    /// The price for a model name as instrumentations report it: exact
    /// first, then without a provider prefix, a dated snapshot or `-latest`.
    pub fn find(&self, model: &str) -> Option<&ModelPrice> {
        candidate_names(model)
            .into_iter()
            .find_map(|name| self.by_model.get(&name))
    }

    pub fn cost(&self, model: Option<&str>, tokens: &TokenUsage) -> SpanCost {
        let used = tokens.input.is_some() || tokens.output.is_some();
        match (model, used) {
            (Some(model), true) => match self.find(model) {
                Some(price) => SpanCost::Priced {
                    nanos: cost_nanos(price, tokens),
                    model: price.model.clone(),
                },
                None => SpanCost::Unpriced,
            },
            _ => SpanCost::NotApplicable,
        }
    }
}

/// An organization's price for a model, from a time on. `model` is an exact
/// name in lower case (matched like the built-in table's, so `gpt-4o` also
/// prices `openai/gpt-4o-2024-08-06`) or a pattern where `*` matches any
/// text, for custom and fine-tuned models (`ft:gpt-4o:acme:*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceOverride {
    pub price: ModelPrice,
    /// Spans that start at or after this time use this price.
    pub effective_from_ns: i64,
}

impl PriceOverride {
    pub fn is_pattern(&self) -> bool {
        self.price.model.contains('*')
    }
}

/// The versions of one overridden name, oldest first.
type Versions = Vec<(i64, ModelPrice)>;

/// What one organization's spans are priced with: its overrides in force at
/// the span's start time, then the built-in table. An exact override beats
/// a pattern, a pattern beats the built-in table, and among patterns the
/// most specific (most literal characters) wins.
#[derive(Debug, Default)]
pub struct OrgPricing {
    exact: HashMap<String, Versions>,
    patterns: Vec<(String, Versions)>,
}

impl OrgPricing {
    pub fn new(overrides: impl IntoIterator<Item = PriceOverride>) -> Self {
        let mut exact: HashMap<String, Versions> = HashMap::new();
        let mut patterns: HashMap<String, Versions> = HashMap::new();
        for mut entry in overrides {
            entry.price.model = entry.price.model.trim().to_ascii_lowercase();
            let versions = if entry.is_pattern() {
                patterns.entry(entry.price.model.clone()).or_default()
            } else {
                exact.entry(entry.price.model.clone()).or_default()
            };
            versions.push((entry.effective_from_ns, entry.price));
        }
        let mut patterns: Vec<(String, Versions)> = patterns.into_iter().collect();
        patterns.sort_by(|(a, _), (b, _)| literal_len(b).cmp(&literal_len(a)).then_with(|| a.cmp(b)));
        for versions in exact
            .values_mut()
            .chain(patterns.iter_mut().map(|(_, versions)| versions))
        {
            versions.sort_by_key(|(from, _)| *from);
        }
        Self { exact, patterns }
    }

    pub fn has_overrides(&self) -> bool {
        !self.exact.is_empty() || !self.patterns.is_empty()
    }

    /// The price of `model` for a span that started at `at_ns`.
    pub fn find(&self, model: &str, at_ns: i64) -> Option<&ModelPrice> {
        if !self.has_overrides() {
            return PricingTable::builtin().find(model);
        }
        fn in_force(versions: &Versions, at_ns: i64) -> Option<&ModelPrice> {
            versions
                .iter()
                .rev()
                .find(|(from, _)| *from <= at_ns)
                .map(|(_, price)| price)
        }
        let names = candidate_names(model);
        names
            .iter()
            .find_map(|name| {
                self.exact
                    .get(name)
                    .and_then(|versions| in_force(versions, at_ns))
            })
            .or_else(|| {
                self.patterns.iter().find_map(|(pattern, versions)| {
                    names
                        .iter()
                        .any(|name| glob_matches(pattern, name))
                        .then(|| in_force(versions, at_ns))
                        .flatten()
                })
            })
            .or_else(|| PricingTable::builtin().find(model))
    }

    pub fn cost(&self, model: Option<&str>, tokens: &TokenUsage, at_ns: i64) -> SpanCost {
        let used = tokens.input.is_some() || tokens.output.is_some();
        match (model, used) {
            (Some(model), true) => match self.find(model, at_ns) {
                Some(price) => SpanCost::Priced {
                    nanos: cost_nanos(price, tokens),
                    model: price.model.clone(),
                },
                None => SpanCost::Unpriced,
            },
            _ => SpanCost::NotApplicable,
        }
    }
}

fn literal_len(pattern: &str) -> usize {
    pattern.chars().filter(|c| *c != '*').count()
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*` at all: the whole text must be the literal.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(position) => rest = &rest[position + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Names to try for `model`, most specific first.
pub fn candidate_names(model: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut push = |name: &str| {
        let name = name.trim().to_ascii_lowercase();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    };
    push(model);
    // "anthropic/claude-…", "models/gemini-…", "openai:gpt-4o", "us.anthropic.claude-…-v1:0"
    let unprefixed = model
        .rsplit(['/', ':'])
        .find(|part| !part.is_empty() && !part.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or(model);
    let unprefixed = unprefixed
        .strip_prefix("us.")
        .or_else(|| unprefixed.strip_prefix("eu."))
        .unwrap_or(unprefixed);
    let unprefixed = unprefixed
        .split_once("anthropic.")
        .map_or(unprefixed, |(_, rest)| rest);
    push(unprefixed);
    let mut base = unprefixed.trim_end_matches("-latest").to_owned();
    for suffix in ["-v1", "-v2"] {
        base = base.trim_end_matches(suffix).to_owned();
    }
    push(&base);
    let undated = strip_date(&base);
    push(&undated);
    names
}

/// Removes dated snapshot suffixes: `-2024-08-06`, `-20241022`,
/// `@20240620`, `-0125`, `-001`.
fn strip_date(name: &str) -> String {
    fn all_digits(text: &str) -> bool {
        !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
    }
    let mut name = name.to_owned();
    loop {
        let bytes = name.as_bytes();
        // Compared as bytes: a name may end in any characters, and a slice
        // of the string there could cut one in two.
        let iso = bytes.len() > 11 && {
            let tail = &bytes[bytes.len() - 11..];
            let digits = |range: std::ops::Range<usize>| tail[range].iter().all(u8::is_ascii_digit);
            tail[0] == b'-'
                && digits(1..5)
                && tail[5] == b'-'
                && digits(6..8)
                && tail[8] == b'-'
                && digits(9..11)
        };
        if iso {
            name.truncate(name.len() - 11);
            continue;
        }
        let Some(position) = name.rfind(['-', '@']) else {
            return name;
        };
        let tail = &name[position + 1..];
        if position > 0 && all_digits(tail) && matches!(tail.len(), 3 | 4 | 8) && bytes[position - 1] != b'-'
        {
            name.truncate(position);
        } else {
            return name;
        }
    }
}

/// Multiplies tokens by a price in micro-dollars per million tokens, in nano-dollars, rounded.
fn nanos_for(tokens: i64, price: MicroUsdPerMtok) -> i128 {
    // tokens × µUSD/Mtok = 1e-12 USD; ÷ 1000 gives nano-dollars.
    i128::from(tokens) * i128::from(price)
}

/// The cost in nano-dollars. Input tokens include cached ones (the OTel
/// GenAI convention), so cache reads and writes are priced at their own
/// rates and taken out of the plain input count — never counted twice.
pub fn cost_nanos(price: &ModelPrice, tokens: &TokenUsage) -> i64 {
    let input = tokens.input.unwrap_or(0);
    let cache_read = tokens.cache_read.unwrap_or(0).min(input);
    let cache_write = tokens.cache_write.unwrap_or(0).min(input - cache_read);
    let plain_input = input - cache_read - cache_write;
    let output = tokens.output.unwrap_or(0);
    let (plain_output, reasoning) = match price.reasoning {
        Some(_) => {
            let reasoning = tokens.reasoning.unwrap_or(0).min(output);
            (output - reasoning, reasoning)
        }
        None => (output, 0),
    };
    let total = nanos_for(plain_input, price.input)
        + nanos_for(cache_read, price.cache_read.unwrap_or(price.input))
        + nanos_for(cache_write, price.cache_write.unwrap_or(price.input))
        + nanos_for(plain_output, price.output)
        + nanos_for(reasoning, price.reasoning.unwrap_or(price.output));
    // Round half up to whole nano-dollars.
    i64::try_from((total + 500) / 1000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> PricingTable {
        PricingTable::parse(
            "provider,model,input,output,cache_read,cache_write,reasoning,source,date\n\
             openai,gpt-4o,2.5,10,1.25,,,test,2026-01-01\n\
             anthropic,claude-sonnet-4,3,15,0.3,3.75,,test,2026-01-01\n\
             openai,o-think,1,4,,,8,test,2026-01-01\n\
             openai,tiny,0.0001,0,,,,test,2026-01-01\n",
        )
        .unwrap()
    }

    fn tokens(input: i64, output: i64) -> TokenUsage {
        TokenUsage {
            input: Some(input),
            output: Some(output),
            ..Default::default()
        }
    }

    #[test]
    fn any_model_name_is_looked_up_without_panicking() {
        // Multi-byte characters where a date suffix would be (a fuzzer's find).
        for model in [
            "G°ÊÁÏ🏻\u{95}¸𭶢B\u{9dfdc}\u{dd2d9}\u{aeeab}í",
            "é-2024-08-0",
            "modèle-2024-08-06",
            "x-2024-08-0é",
            "🏻🏻🏻🏻🏻🏻",
            "-",
            "@",
            "gpt-4o-mini-2024-07-18",
        ] {
            let names = candidate_names(model);
            assert!(!names.is_empty(), "{model}");
            table().find(model);
        }
        assert_eq!(strip_date("modèle-2024-08-06"), "modèle");
    }

    #[test]
    fn prices_parse_exactly() {
        assert_eq!(parse_micro_usd("2.5"), Ok(2_500_000));
        assert_eq!(parse_micro_usd("0.075"), Ok(75_000));
        assert_eq!(parse_micro_usd("15"), Ok(15_000_000));
        assert_eq!(parse_micro_usd(".5"), Ok(500_000));
        assert_eq!(parse_micro_usd("0.000001"), Ok(1));
        for bad in ["", "abc", "1.2345678", "-1", "1e3"] {
            assert!(parse_micro_usd(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_cost_in_nano_dollars() {
        let table = table();
        // 1000 × 2.50 $/M + 100 × 10 $/M = 0.0025 + 0.001 = 0.0035 $
        assert_eq!(
            table.cost(Some("gpt-4o"), &tokens(1000, 100)),
            SpanCost::Priced {
                nanos: 3_500_000,
                model: "gpt-4o".into()
            }
        );
        // One token at 2.50 $/M is 2.5e-6 $, 2500 nano-dollars.
        assert_eq!(cost_nanos(table.find("gpt-4o").unwrap(), &tokens(1, 0)), 2_500);
        // Below a nano-dollar, each span's cost rounds half up.
        let tiny = table.find("tiny").unwrap();
        assert_eq!(cost_nanos(tiny, &tokens(4, 0)), 0);
        assert_eq!(cost_nanos(tiny, &tokens(5, 0)), 1);
    }

    #[test]
    fn cached_tokens_are_not_counted_twice() {
        let table = table();
        let usage = TokenUsage {
            input: Some(1000),
            output: Some(0),
            cache_read: Some(800),
            cache_write: Some(100),
            reasoning: None,
        };
        // 100 plain × 3 + 800 × 0.3 + 100 × 3.75 = 300 + 240 + 375 = 915 µ$ … in nano: 915_000
        assert_eq!(
            cost_nanos(table.find("claude-sonnet-4").unwrap(), &usage),
            915_000
        );
        // Cache counts larger than the input are capped, never negative.
        let odd = TokenUsage {
            input: Some(10),
            cache_read: Some(50),
            ..Default::default()
        };
        assert_eq!(cost_nanos(table.find("claude-sonnet-4").unwrap(), &odd), 3_000);
    }

    #[test]
    fn reasoning_priced_where_it_differs() {
        let table = table();
        let usage = TokenUsage {
            input: Some(0),
            output: Some(1000),
            reasoning: Some(600),
            ..Default::default()
        };
        // 400 × 4 + 600 × 8 = 1600 + 4800 = 6400 µ$ … 6_400_000 nano
        assert_eq!(cost_nanos(table.find("o-think").unwrap(), &usage), 6_400_000);
        // Without a distinct price, reasoning is just output.
        let usage = TokenUsage {
            input: Some(0),
            output: Some(1000),
            reasoning: Some(600),
            ..Default::default()
        };
        assert_eq!(cost_nanos(table.find("gpt-4o").unwrap(), &usage), 10_000_000);
    }

    #[test]
    fn names_are_normalized() {
        let table = table();
        for name in [
            "gpt-4o",
            "GPT-4o",
            "gpt-4o-2024-08-06",
            "openai/gpt-4o",
            "gpt-4o-latest",
            "anthropic/claude-sonnet-4-20250514",
            "claude-sonnet-4@20250514",
            "us.anthropic.claude-sonnet-4-20250514-v1:0",
        ] {
            assert!(
                table.find(name).is_some(),
                "{name}: tried {:?}",
                candidate_names(name)
            );
        }
        assert!(
            table.find("gpt-4").is_none(),
            "a different model is not matched by prefix"
        );
        assert!(table.find("gpt-4o-mini").is_none());
    }

    #[test]
    fn the_builtin_table_covers_the_main_providers() {
        let table = PricingTable::builtin();
        assert!(table.len() >= 40, "{} rows", table.len());
        for provider in [
            "openai",
            "anthropic",
            "google",
            "mistral",
            "deepseek",
            "meta",
            "xai",
        ] {
            assert!(
                table.prices().any(|price| price.provider == provider),
                "{provider}"
            );
        }
        assert!(
            table
                .prices()
                .all(|price| !price.source.is_empty() && price.date.len() == 10)
        );
        for model in [
            "gpt-4o-2024-08-06",
            "openai/gpt-4o-mini",
            "claude-sonnet-4-20250514",
            "models/gemini-2.5-pro",
            "deepseek-chat",
        ] {
            assert!(table.find(model).is_some(), "{model}");
        }
        let gpt4o = table.find("gpt-4o").unwrap();
        assert_eq!(
            (gpt4o.input, gpt4o.output, gpt4o.cache_read),
            (2_500_000, 10_000_000, Some(1_250_000))
        );
    }

    #[test]
    fn unknown_models_are_unpriced_not_free() {
        let table = table();
        assert_eq!(
            table.cost(Some("my-local-llm"), &tokens(10, 10)),
            SpanCost::Unpriced
        );
        assert_eq!(
            table.cost(Some("gpt-4o"), &TokenUsage::default()),
            SpanCost::NotApplicable
        );
        assert_eq!(table.cost(None, &tokens(10, 10)), SpanCost::NotApplicable);
        assert_eq!(SpanCost::Unpriced.nanos(), None);
    }

    fn override_of(model: &str, input: &str, output: &str, from_ns: i64) -> PriceOverride {
        PriceOverride {
            price: ModelPrice {
                provider: "acme".into(),
                model: model.into(),
                input: parse_micro_usd(input).unwrap(),
                output: parse_micro_usd(output).unwrap(),
                cache_read: None,
                cache_write: None,
                reasoning: None,
                source: "organization".into(),
                date: String::new(),
            },
            effective_from_ns: from_ns,
        }
    }

    #[test]
    fn glob_patterns_match_runs_of_characters() {
        assert!(glob_matches("ft:gpt-4o:acme:*", "ft:gpt-4o:acme:run-7"));
        assert!(glob_matches("*-llama-*", "acme-llama-70b"));
        assert!(glob_matches("acme*", "acme"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("a*b*c", "abc"));
        assert!(!glob_matches("a*b*c", "acb"));
        assert!(
            !glob_matches("ab*ba", "aba"),
            "the prefix and suffix may not overlap"
        );
        assert!(!glob_matches("acme-*", "other-acme-1"));
        assert!(glob_matches("exact", "exact"));
        assert!(!glob_matches("exact", "exactly"));
    }

    #[test]
    fn overrides_apply_from_their_effective_time() {
        let pricing = OrgPricing::new([
            override_of("gpt-4o", "1", "2", 1_000),
            override_of("GPT-4o", "3", "4", 2_000),
        ]);
        let builtin = PricingTable::builtin().find("gpt-4o").unwrap();
        assert_eq!(
            pricing.find("gpt-4o", 999),
            Some(builtin),
            "before any override: the built-in price"
        );
        assert_eq!(
            pricing.find("gpt-4o", 1_000).unwrap().input,
            1_000_000,
            "inclusive start"
        );
        assert_eq!(pricing.find("gpt-4o", 1_999).unwrap().input, 1_000_000);
        assert_eq!(
            pricing.find("gpt-4o", 2_000).unwrap().input,
            3_000_000,
            "the newer version"
        );
        // Names are normalized as for the built-in table.
        assert_eq!(
            pricing.find("openai/gpt-4o-2024-08-06", 5_000).unwrap().input,
            3_000_000
        );
        assert_eq!(
            pricing.cost(Some("gpt-4o"), &tokens(1_000_000, 1_000_000), 2_500),
            SpanCost::Priced {
                nanos: 7_000_000_000,
                model: "gpt-4o".into()
            }
        );
    }

    #[test]
    fn exact_overrides_beat_patterns_and_specific_patterns_beat_broad_ones() {
        let pricing = OrgPricing::new([
            override_of("acme-*", "1", "1", 0),
            override_of("acme-llm-*", "2", "2", 0),
            override_of("acme-llm-large", "3", "3", 0),
            override_of("gpt-*", "9", "9", 0),
        ]);
        assert_eq!(pricing.find("acme-tiny", 10).unwrap().input, 1_000_000);
        assert_eq!(pricing.find("acme-llm-small", 10).unwrap().input, 2_000_000);
        assert_eq!(pricing.find("acme-llm-large", 10).unwrap().input, 3_000_000);
        assert_eq!(
            pricing.find("gpt-4o", 10).unwrap().input,
            9_000_000,
            "a pattern beats the built-in table"
        );
        assert_eq!(
            pricing.find("acme-llm-small", -10),
            None,
            "not yet in force, and not built in"
        );
        assert_eq!(
            pricing.cost(Some("unknown-model"), &tokens(1, 1), 10),
            SpanCost::Unpriced
        );
    }

    #[test]
    fn without_overrides_the_builtin_table_prices() {
        let pricing = OrgPricing::default();
        assert!(!pricing.has_overrides());
        assert_eq!(
            pricing.cost(Some("gpt-4o"), &tokens(1000, 100), 0),
            PricingTable::builtin().cost(Some("gpt-4o"), &tokens(1000, 100))
        );
    }
}
