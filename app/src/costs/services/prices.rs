//! Organizations' prices: overrides of the built-in table for a model or a
//! name pattern, effective from a chosen time, and the cache ingest prices
//! spans with.
//!
//! A change applies to spans ingested from then on (within
//! [`PRICE_CACHE_TTL`](super::price_book::PRICE_CACHE_TTL) on other replicas); spans already stored keep their
//! cost until a recompute re-prices them ([`super::recompute`]).

use entity::model_price;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, prelude::*,
};
use serde_json::json;

use crate::{
    accounts::{
        services::{orgs, users},
        types::{Action, role_allows},
    },
    costs::{
        services::{price_book::PriceBook, recompute},
        types::{BuiltinPrice, PriceList, PriceOverride, PriceOverrideInput, PricesPageData},
    },
    error::{AppError, Result},
    platform::services::{
        audit::{self, Actor},
        now_ns, rfc3339,
        transaction::begin_write,
    },
    telemetry::services::{
        ingest::pricing::{PricingTable, parse_micro_usd},
        span_store::parse_time,
    },
};

/// An organization may keep this many prices.
pub const MAX_OVERRIDES: usize = 1000;

const MAX_MODEL_LEN: usize = 200;

/// Micro-dollars per million tokens as the shortest exact decimal: `2.5`.
pub fn format_micro_usd(micro: i64) -> String {
    let sign = if micro < 0 { "-" } else { "" };
    let magnitude = micro.unsigned_abs();
    let fraction = format!("{:06}", magnitude % 1_000_000);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        format!("{sign}{}", magnitude / 1_000_000)
    } else {
        format!("{sign}{}.{fraction}", magnitude / 1_000_000)
    }
}

/// The built-in table, by provider and model.
pub fn builtin() -> Vec<BuiltinPrice> {
    let mut prices: Vec<BuiltinPrice> = PricingTable::builtin()
        .prices()
        .map(|price| BuiltinPrice {
            provider: price.provider.clone(),
            model: price.model.clone(),
            input_usd_per_mtok: format_micro_usd(price.input),
            output_usd_per_mtok: format_micro_usd(price.output),
            cache_read_usd_per_mtok: price.cache_read.map(format_micro_usd),
            cache_write_usd_per_mtok: price.cache_write.map(format_micro_usd),
            reasoning_usd_per_mtok: price.reasoning.map(format_micro_usd),
            source: price.source.clone(),
            date: price.date.clone(),
        })
        .collect();
    prices.sort_by(|a, b| (&a.provider, &a.model).cmp(&(&b.provider, &b.model)));
    prices
}

fn bad(message: impl Into<String>) -> AppError {
    AppError::BadRequest(message.into())
}

/// An input checked and turned into a row's values (without id and org).
#[derive(Clone, Debug, PartialEq, Eq)]
struct ValidPrice {
    model: String,
    provider: String,
    input: i64,
    output: i64,
    cache_read: Option<i64>,
    cache_write: Option<i64>,
    reasoning: Option<i64>,
    effective_from_ns: i64,
    note: String,
}

fn validate(input: &PriceOverrideInput) -> Result<ValidPrice> {
    let model = input.model.trim().to_ascii_lowercase();
    if model.is_empty() {
        return Err(bad("`model` must name a model or a pattern such as `acme-*`"));
    }
    if model.chars().count() > MAX_MODEL_LEN || model.chars().any(char::is_control) {
        return Err(bad(format!(
            "`model` must be at most {MAX_MODEL_LEN} printable characters"
        )));
    }
    let price = |field: &str, text: &str| {
        parse_micro_usd(text).map_err(|err| bad(format!("`{field}`: {err} (USD per million tokens)")))
    };
    let optional =
        |field: &str, text: &Option<String>| text.as_deref().map(|text| price(field, text)).transpose();
    let effective_from_ns = match input.effective_from.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(text) => parse_time("effective_from", text)?,
    };
    let note = input.note.clone().unwrap_or_default().trim().to_owned();
    if note.chars().count() > 500 {
        return Err(bad("`note` must be at most 500 characters"));
    }
    Ok(ValidPrice {
        model,
        provider: input.provider.clone().unwrap_or_default().trim().to_owned(),
        input: price("input_usd_per_mtok", &input.input_usd_per_mtok)?,
        output: price("output_usd_per_mtok", &input.output_usd_per_mtok)?,
        cache_read: optional("cache_read_usd_per_mtok", &input.cache_read_usd_per_mtok)?,
        cache_write: optional("cache_write_usd_per_mtok", &input.cache_write_usd_per_mtok)?,
        reasoning: optional("reasoning_usd_per_mtok", &input.reasoning_usd_per_mtok)?,
        effective_from_ns,
        note,
    })
}

fn active_row(org_id: Uuid, actor: &Actor, price: ValidPrice) -> model_price::ActiveModel {
    model_price::ActiveModel {
        org_id: Set(org_id),
        model: Set(price.model),
        provider: Set(price.provider),
        input: Set(price.input),
        output: Set(price.output),
        cache_read: Set(price.cache_read),
        cache_write: Set(price.cache_write),
        reasoning: Set(price.reasoning),
        effective_from_ns: Set(price.effective_from_ns),
        note: Set(price.note),
        updated_by: Set(actor.user_id),
        updated_at_ns: Set(now_ns()),
        ..Default::default()
    }
}

async fn rows_of(db: &impl ConnectionTrait, org_id: Uuid) -> Result<Vec<model_price::Model>> {
    Ok(model_price::Entity::find()
        .filter(model_price::Column::OrgId.eq(org_id))
        .order_by_asc(model_price::Column::Model)
        .order_by_asc(model_price::Column::EffectiveFromNs)
        .all(db)
        .await?)
}

async fn views_of(db: &impl ConnectionTrait, rows: Vec<model_price::Model>) -> Result<Vec<PriceOverride>> {
    let emails = users::emails_of(db, rows.iter().filter_map(|row| row.updated_by)).await?;
    Ok(rows
        .into_iter()
        .map(|row| PriceOverride {
            id: row.id,
            is_pattern: row.model.contains('*'),
            model: row.model,
            provider: row.provider,
            input_usd_per_mtok: format_micro_usd(row.input),
            output_usd_per_mtok: format_micro_usd(row.output),
            cache_read_usd_per_mtok: row.cache_read.map(format_micro_usd),
            cache_write_usd_per_mtok: row.cache_write.map(format_micro_usd),
            reasoning_usd_per_mtok: row.reasoning.map(format_micro_usd),
            effective_from: rfc3339(row.effective_from_ns),
            note: row.note,
            updated_by: row.updated_by.and_then(|id| emails.get(&id).cloned()),
            updated_at: rfc3339(row.updated_at_ns),
        })
        .collect())
}

/// The built-in table and the organization's overrides (any member, or a `read` token).
pub async fn list(db: &impl ConnectionTrait, org_id: Uuid) -> Result<PriceList> {
    let rows = rows_of(db, org_id).await?;
    Ok(PriceList {
        overrides: views_of(db, rows).await?,
        builtin: builtin(),
    })
}

/// Everything the Prices page shows to `user_id`.
pub async fn page(db: &DatabaseConnection, org_id: Uuid, user_id: Uuid) -> Result<PricesPageData> {
    let role = orgs::authorize(db, org_id, user_id, Action::Read).await?;
    Ok(PricesPageData {
        prices: list(db, org_id).await?,
        jobs: recompute::recent(db, org_id).await?,
        audit: audit::recent(db, org_id, "", 20).await?,
        can_edit: role_allows(role, Action::ManagePolicies),
    })
}

fn describe(price: &ValidPrice) -> String {
    format!(
        "{} at {} / {} USD per Mtok from {}",
        price.model,
        format_micro_usd(price.input),
        format_micro_usd(price.output),
        rfc3339(price.effective_from_ns)
    )
}

fn unique_versions(prices: &[ValidPrice]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for price in prices {
        if !seen.insert((&price.model, price.effective_from_ns)) {
            return Err(bad(format!(
                "{} has two prices effective from {}; give each version its own time",
                price.model,
                rfc3339(price.effective_from_ns)
            )));
        }
    }
    Ok(())
}

fn valid_of(row: &model_price::Model) -> ValidPrice {
    ValidPrice {
        model: row.model.clone(),
        provider: row.provider.clone(),
        input: row.input,
        output: row.output,
        cache_read: row.cache_read,
        cache_write: row.cache_write,
        reasoning: row.reasoning,
        effective_from_ns: row.effective_from_ns,
        note: row.note.clone(),
    }
}

/// Replaces the organization's prices with `inputs` (admins), in one
/// transaction with its audit entry.
pub async fn replace_all(
    db: &DatabaseConnection,
    book: &PriceBook,
    org_id: Uuid,
    actor: &Actor,
    inputs: &[PriceOverrideInput],
) -> Result<PriceList> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    if inputs.len() > MAX_OVERRIDES {
        return Err(bad(format!("at most {MAX_OVERRIDES} prices per organization")));
    }
    let prices = inputs
        .iter()
        .enumerate()
        .map(|(index, input)| validate(input).map_err(|err| bad(format!("overrides[{index}]: {err}"))))
        .collect::<Result<Vec<_>>>()?;
    unique_versions(&prices)?;
    let txn = begin_write(db).await?;
    let before: Vec<ValidPrice> = rows_of(&txn, org_id).await?.iter().map(valid_of).collect();
    let added: Vec<String> = prices
        .iter()
        .filter(|p| !before.contains(p))
        .map(describe)
        .collect();
    let removed: Vec<String> = before
        .iter()
        .filter(|p| !prices.contains(p))
        .map(describe)
        .collect();
    model_price::Entity::delete_many()
        .filter(model_price::Column::OrgId.eq(org_id))
        .exec(&txn)
        .await?;
    if !prices.is_empty() {
        model_price::Entity::insert_many(
            prices
                .iter()
                .cloned()
                .map(|price| active_row(org_id, actor, price)),
        )
        .exec(&txn)
        .await?;
    }
    audit::record(
        &txn,
        org_id,
        actor,
        "prices.replaced",
        format!(
            "Set {} prices: {} added or changed, {} removed",
            prices.len(),
            added.len(),
            removed.len()
        ),
        json!({ "added": added, "removed": removed }),
    )
    .await?;
    txn.commit().await?;
    book.forget(org_id);
    list(db, org_id).await
}

/// Adds a price (`id` none) or changes one (admins).
pub async fn save_one(
    db: &DatabaseConnection,
    book: &PriceBook,
    org_id: Uuid,
    actor: &Actor,
    id: Option<i64>,
    input: PriceOverrideInput,
) -> Result<PriceOverride> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let price = validate(&input)?;
    let txn = begin_write(db).await?;
    let existing = match id {
        Some(id) => Some(
            model_price::Entity::find_by_id(id)
                .filter(model_price::Column::OrgId.eq(org_id))
                .one(&txn)
                .await?
                .ok_or(AppError::NotFound("price"))?,
        ),
        None => None,
    };
    let clash = model_price::Entity::find()
        .filter(model_price::Column::OrgId.eq(org_id))
        .filter(model_price::Column::Model.eq(price.model.clone()))
        .filter(model_price::Column::EffectiveFromNs.eq(price.effective_from_ns))
        .one(&txn)
        .await?;
    if clash.is_some_and(|clash| Some(clash.id) != id) {
        return Err(AppError::Conflict(format!(
            "{} already has a price effective from {}; edit that one, or choose another time",
            price.model,
            rfc3339(price.effective_from_ns)
        )));
    }
    let summary = match &existing {
        Some(old) => format!("Changed {} to {}", describe(&valid_of(old)), describe(&price)),
        None => format!("Added {}", describe(&price)),
    };
    let mut row = active_row(org_id, actor, price);
    let saved = match existing {
        Some(old) => {
            row.id = Set(old.id);
            row.update(&txn).await?
        }
        None => row.insert(&txn).await?,
    };
    let action = if id.is_some() {
        "prices.changed"
    } else {
        "prices.added"
    };
    audit::record(&txn, org_id, actor, action, summary, json!({ "id": saved.id })).await?;
    txn.commit().await?;
    book.forget(org_id);
    let mut views = views_of(db, vec![saved]).await?;
    views
        .pop()
        .ok_or_else(|| AppError::Internal("a saved price vanished".to_owned()))
}

/// Deletes one price (admins).
pub async fn delete_one(
    db: &DatabaseConnection,
    book: &PriceBook,
    org_id: Uuid,
    actor: &Actor,
    id: i64,
) -> Result<()> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let txn = begin_write(db).await?;
    let row = model_price::Entity::find_by_id(id)
        .filter(model_price::Column::OrgId.eq(org_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("price"))?;
    let summary = format!("Removed {}", describe(&valid_of(&row)));
    model_price::Entity::delete_by_id(row.id).exec(&txn).await?;
    audit::record(
        &txn,
        org_id,
        actor,
        "prices.removed",
        summary,
        json!({ "id": id }),
    )
    .await?;
    txn.commit().await?;
    book.forget(org_id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(model: &str, input: &str, output: &str) -> PriceOverrideInput {
        PriceOverrideInput {
            model: model.into(),
            input_usd_per_mtok: input.into(),
            output_usd_per_mtok: output.into(),
            ..Default::default()
        }
    }

    #[test]
    fn micro_dollars_print_as_short_exact_decimals() {
        assert_eq!(format_micro_usd(2_500_000), "2.5");
        assert_eq!(format_micro_usd(15_000_000), "15");
        assert_eq!(format_micro_usd(75_000), "0.075");
        assert_eq!(format_micro_usd(1), "0.000001");
        assert_eq!(format_micro_usd(0), "0");
        for micro in [0, 1, 75_000, 2_500_000, 123_456_789] {
            assert_eq!(parse_micro_usd(&format_micro_usd(micro)), Ok(micro));
        }
    }

    #[test]
    fn inputs_are_validated_with_reasons() {
        let valid = validate(&PriceOverrideInput {
            effective_from: Some("2026-11-01T00:00:00Z".into()),
            provider: Some(" Acme ".into()),
            cache_read_usd_per_mtok: Some("0.5".into()),
            ..input(" ACME-LLM-* ", "1.25", "5")
        })
        .unwrap();
        assert_eq!(valid.model, "acme-llm-*");
        assert_eq!(valid.provider, "Acme");
        assert_eq!(
            (valid.input, valid.output, valid.cache_read),
            (1_250_000, 5_000_000, Some(500_000))
        );
        assert_eq!(valid.effective_from_ns, 1_793_491_200_000_000_000);
        assert_eq!(
            validate(&input("m", "1", "1")).unwrap().effective_from_ns,
            0,
            "default: every span"
        );

        for (bad_input, expected) in [
            (input("", "1", "1"), "`model`"),
            (input("m", "-1", "1"), "input_usd_per_mtok"),
            (input("m", "1", "1.0000001"), "output_usd_per_mtok"),
            (
                PriceOverrideInput {
                    effective_from: Some("yesterday".into()),
                    ..input("m", "1", "1")
                },
                "effective_from",
            ),
        ] {
            let message = validate(&bad_input).unwrap_err().to_string();
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn two_versions_of_a_model_need_two_times() {
        let at = |from: &str| {
            validate(&PriceOverrideInput {
                effective_from: Some(from.into()),
                ..input("m", "1", "1")
            })
            .unwrap()
        };
        assert!(unique_versions(&[at("1"), at("2")]).is_ok());
        assert!(unique_versions(&[at("1"), at("1")]).is_err());
    }

    #[test]
    fn numbers_and_strings_are_both_prices() {
        let parsed: PriceOverrideInput =
            serde_json::from_str(r#"{"model":"m","input_usd_per_mtok":2.5,"output_usd_per_mtok":"10","cache_read_usd_per_mtok":0.075}"#)
                .unwrap();
        assert_eq!(parsed.input_usd_per_mtok, "2.5");
        assert_eq!(parsed.output_usd_per_mtok, "10");
        assert_eq!(parsed.cache_read_usd_per_mtok.as_deref(), Some("0.075"));
        assert_eq!(parsed.reasoning_usd_per_mtok, None);
    }
}
