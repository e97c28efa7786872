//! The prices ingest uses: each organization's overrides over the built-in
//! table, read from the database and kept for a short while per replica.

use std::{sync::Arc, time::Duration};

use entity::model_price;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, prelude::*};

use crate::{
    error::Result,
    platform::services::{expiring_cache::ExpiringCache, rfc3339},
    telemetry::services::ingest::pricing::{ModelPrice, OrgPricing, PriceOverride as Override},
};

/// How long a replica prices with what it last read: a change made through
/// another replica reaches this one's ingest within this time.
pub const PRICE_CACHE_TTL: Duration = Duration::from_secs(15);

/// Each organization's pricing as ingest last read it.
#[derive(Clone, Debug)]
pub struct PriceBook {
    cached: ExpiringCache<Uuid, Arc<OrgPricing>>,
}

impl Default for PriceBook {
    fn default() -> Self {
        Self {
            cached: ExpiringCache::new(PRICE_CACHE_TTL),
        }
    }
}

impl PriceBook {
    /// The pricing `org_id`'s spans are priced with now.
    pub async fn for_org(&self, db: &DatabaseConnection, org_id: Uuid) -> Result<Arc<OrgPricing>> {
        if let Some(pricing) = self.cached.get(&org_id) {
            return Ok(pricing);
        }
        let pricing = Arc::new(load_pricing(db, org_id).await?);
        self.cached.insert(org_id, pricing.clone());
        Ok(pricing)
    }

    /// Drops what this replica knows of `org_id`'s prices after a change.
    pub fn forget(&self, org_id: Uuid) {
        self.cached.remove(&org_id);
    }
}

/// The organization's overrides, read fresh from the database.
pub async fn load_pricing(db: &impl ConnectionTrait, org_id: Uuid) -> Result<OrgPricing> {
    let rows = model_price::Entity::find()
        .filter(model_price::Column::OrgId.eq(org_id))
        .all(db)
        .await?;
    Ok(OrgPricing::new(rows.into_iter().map(|row| Override {
        effective_from_ns: row.effective_from_ns,
        price: ModelPrice {
            provider: row.provider,
            model: row.model,
            input: row.input,
            output: row.output,
            cache_read: row.cache_read,
            cache_write: row.cache_write,
            reasoning: row.reasoning,
            source: "organization".to_owned(),
            date: rfc3339(row.effective_from_ns),
        },
    })))
}
