//! Rate limits, the monthly span quota and budgets.
//!
//! Each organization, and each API token with limits of its own, has token
//! buckets: one for ingest (spans and metric points per second) and one for
//! REST API requests. An export is checked twice: before it is decoded
//! (refused at once while a bucket is known to be empty or the quota is
//! spent, so a flooding tenant costs little CPU) and after, when its size is
//! known and is taken from the buckets. On SQLite the one process keeps the
//! buckets in memory; on PostgreSQL they live in `rate_buckets` and every
//! replica takes allotments from them (`shared`), so a limit holds across
//! replicas. Limits are set by the installation (defaults and ceilings)
//! and lowered by an organization's policy.

mod bucket;
pub mod budgets;
pub mod calendar;
pub mod counts;
mod headers;
mod shared;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::Instant,
};

use sea_orm::{DatabaseBackend, DatabaseConnection};
use uuid::Uuid;

pub use bucket::Rate;
use bucket::{Bucket, Take};
pub use counts::{Counted, IngestCounts};
pub use headers::{LimitHeaders, LimitState};

use crate::{
    error::Result,
    governance::types::{LimitsReport, RateLimits, TokenRatesInForce},
};

/// The installation's limits: what an organization gets when its policy
/// says nothing, and the most it can set.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct InstallationLimits {
    pub ingest: Option<Rate>,
    pub api: Option<Rate>,
    pub monthly_spans: Option<u64>,
}

/// One organization's limits in force.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OrgLimits {
    pub ingest: Option<Rate>,
    pub api: Option<Rate>,
    pub monthly_spans: Option<u64>,
    pub tokens: HashMap<Uuid, TokenLimits>,
}

/// A token's own limits, within its organization's.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TokenLimits {
    pub ingest: Option<Rate>,
    pub api: Option<Rate>,
}

/// The tighter of two optional limits; either alone if only one is set.
fn tighter(a: Option<Rate>, b: Option<Rate>) -> Option<Rate> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.tighter(b)),
        (a, b) => a.or(b),
    }
}

impl OrgLimits {
    /// The installation's limits alone (an organization without a policy).
    pub fn installation(installation: &InstallationLimits) -> Self {
        Self::compile(installation, &RateLimits::default())
    }

    pub fn compile(installation: &InstallationLimits, limits: &RateLimits) -> Self {
        let rate = |setting: Option<crate::governance::types::RateSetting>| setting.map(Rate::from_setting);
        Self {
            ingest: tighter(installation.ingest, rate(limits.ingest)),
            api: tighter(installation.api, rate(limits.api)),
            monthly_spans: match (installation.monthly_spans, limits.monthly_spans) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            tokens: limits.tokens.iter().fold(HashMap::new(), |mut tokens, token| {
                if let Ok(id) = Uuid::parse_str(&token.token_id) {
                    let entry: &mut TokenLimits = tokens.entry(id).or_default();
                    entry.ingest = tighter(entry.ingest, rate(token.ingest));
                    entry.api = tighter(entry.api, rate(token.api));
                }
                tokens
            }),
        }
    }

    /// What the usage report shows of them.
    pub fn tokens_in_force(&self) -> Vec<TokenRatesInForce> {
        let mut tokens: Vec<_> = self
            .tokens
            .iter()
            .map(|(id, limits)| TokenRatesInForce {
                token_id: id.to_string(),
                ingest: limits.ingest.map(Rate::in_force),
                api: limits.api.map(Rate::in_force),
            })
            .collect();
        tokens.sort_by(|a, b| a.token_id.cmp(&b.token_id));
        tokens
    }
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusedFor {
    /// A rate limit: retry after `Retry-After`.
    Rate,
    /// The monthly quota: retry next month.
    Quota,
}

/// A refusal: what to tell the client and when to come back.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub reason: RefusedFor,
    pub message: String,
    pub retry_after_secs: u64,
    pub headers: LimitHeaders,
}

/// Which bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum BucketKey {
    OrgIngest(Uuid),
    TokenIngest(Uuid),
    OrgApi(Uuid),
    TokenApi(Uuid),
}

impl BucketKey {
    fn name(self) -> &'static str {
        match self {
            Self::OrgIngest(_) => "org-ingest",
            Self::TokenIngest(_) => "token-ingest",
            Self::OrgApi(_) => "org-api",
            Self::TokenApi(_) => "token-api",
        }
    }

    fn unit(self) -> Option<&'static str> {
        match self {
            Self::OrgIngest(_) | Self::TokenIngest(_) => Some("span"),
            Self::OrgApi(_) | Self::TokenApi(_) => None,
        }
    }

    fn stored(self) -> String {
        let (kind, id) = match self {
            Self::OrgIngest(id) => ("ingest:org", id),
            Self::TokenIngest(id) => ("ingest:token", id),
            Self::OrgApi(id) => ("api:org", id),
            Self::TokenApi(id) => ("api:token", id),
        };
        format!("{kind}:{id}")
    }

    /// What a refusal says.
    fn refusal(self, rate: Rate) -> String {
        let (whose, what, unit) = match self {
            Self::OrgIngest(_) => ("the organization's", "ingest", "spans"),
            Self::TokenIngest(_) => ("this API token's", "ingest", "spans"),
            Self::OrgApi(_) => ("the organization's", "API", "requests"),
            Self::TokenApi(_) => ("this API token's", "API", "requests"),
        };
        format!(
            "{whose} {what} rate limit ({} {unit}/s, burst {}) is used up",
            rate.per_second, rate.burst
        )
    }
}

/// A bucket as this replica holds it.
#[derive(Clone, Copy, Debug)]
enum Slot {
    /// The whole bucket (one process).
    Local(Bucket),
    /// What this replica took from the shared bucket and has not used,
    /// the bucket's level as last seen, and until when it is known empty.
    Shared {
        allotment: f64,
        level: f64,
        empty_until: f64,
    },
}

/// Every bucket this replica uses, and the quota's counts.
#[derive(Clone, Debug)]
pub struct Limits {
    slots: Arc<Mutex<HashMap<BucketKey, Slot>>>,
    /// PostgreSQL, whose `rate_buckets` replicas share; `None` on SQLite.
    shared: Option<DatabaseConnection>,
    epoch: Instant,
    pub counts: IngestCounts,
    pub spend: budgets::SpendCache,
}

/// The share of a second's rate a replica takes beyond what a request
/// needs, up to a quarter of the burst.
const ALLOTMENT_SECS: f64 = 0.1;

/// An export let in before decoding; [`Limits::charge_ingest`] takes its size.
#[derive(Clone, Debug)]
pub struct IngestPass {
    buckets: Vec<(BucketKey, Rate)>,
    quota: Option<(u64, u64)>,
}

impl Limits {
    pub fn new(db: &DatabaseConnection) -> Self {
        Self {
            slots: Arc::default(),
            shared: (db.get_database_backend() == DatabaseBackend::Postgres).then(|| db.clone()),
            epoch: Instant::now(),
            counts: IngestCounts::default(),
            spend: budgets::SpendCache::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<BucketKey, Slot>> {
        self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }

    fn new_slot(&self, rate: Rate, now: f64) -> Slot {
        match self.shared {
            Some(_) => Slot::Shared {
                allotment: 0.0,
                level: rate.burst,
                empty_until: 0.0,
            },
            None => Slot::Local(Bucket::full(rate, now)),
        }
    }

    /// The bucket's state for the headers, and whether it has room.
    fn peek(&self, key: BucketKey, rate: Rate) -> (LimitState, Option<f64>) {
        let now = self.now();
        let mut slots = self.lock();
        let slot = *slots.entry(key).or_insert_with(|| self.new_slot(rate, now));
        let (level, wait) = match slot {
            Slot::Local(bucket) => {
                let level = bucket.level(rate, now);
                (level, (level < 1.0).then(|| rate.secs_until(level, 1.0)))
            }
            Slot::Shared {
                allotment,
                level,
                empty_until,
            } => (
                level.max(0.0) + allotment,
                (allotment < 1.0 && empty_until > now).then_some(empty_until - now),
            ),
        };
        (LimitState::bucket(key.name(), key.unit(), rate, level), wait)
    }

    /// Takes `amount` from one bucket: the level after, or how long until it has room.
    async fn take(&self, key: BucketKey, rate: Rate, amount: f64) -> std::result::Result<f64, f64> {
        let now = self.now();
        let lacking = {
            let mut slots = self.lock();
            let slot = slots.entry(key).or_insert_with(|| self.new_slot(rate, now));
            match slot {
                Slot::Local(bucket) => {
                    return match bucket.take(rate, amount, now) {
                        Take::Admitted { level } => Ok(level),
                        Take::Refused { wait_secs } => Err(wait_secs),
                    };
                }
                Slot::Shared {
                    allotment,
                    level,
                    empty_until,
                } => {
                    if *allotment >= amount {
                        *allotment -= amount;
                        return Ok(level.max(0.0) + *allotment);
                    }
                    if *empty_until > now {
                        return Err(*empty_until - now);
                    }
                    amount - allotment.max(0.0)
                }
            }
        };
        let Some(db) = &self.shared else {
            return Ok(0.0);
        };
        let extra = (rate.per_second * ALLOTMENT_SECS).min(rate.burst / 4.0).max(1.0);
        let taken = shared::take(db, &key.stored(), rate, lacking, extra).await;
        let mut slots = self.lock();
        let Some(Slot::Shared {
            allotment,
            level,
            empty_until,
        }) = slots.get_mut(&key)
        else {
            return Ok(0.0);
        };
        match taken {
            Ok(granted) if granted.granted > 0.0 => {
                *allotment += granted.granted - amount;
                *level = granted.level;
                Ok(granted.level.max(0.0) + allotment.max(0.0))
            }
            Ok(granted) => {
                let wait = rate.secs_until(granted.level, 1.0);
                *level = granted.level;
                *empty_until = self.now() + wait;
                Err(wait)
            }
            Err(err) => {
                // A limit must not take ingest down with the database: let
                // the request in (its write will tell whether storage works).
                tracing::warn!(error = %err, bucket = %key.stored(), "rate bucket unreadable; request let in");
                Ok(0.0)
            }
        }
    }

    fn ingest_buckets(limits: &OrgLimits, org_id: Uuid, token_id: Option<Uuid>) -> Vec<(BucketKey, Rate)> {
        let token = token_id.and_then(|id| Some((id, limits.tokens.get(&id)?.ingest?)));
        token
            .map(|(id, rate)| (BucketKey::TokenIngest(id), rate))
            .into_iter()
            .chain(limits.ingest.map(|rate| (BucketKey::OrgIngest(org_id), rate)))
            .collect()
    }

    /// Before an export is decoded: refused while one of its buckets is
    /// known to be empty or, for `spans` (not metric points), the month's
    /// quota is spent.
    pub async fn before_ingest(
        &self,
        db: &DatabaseConnection,
        limits: &OrgLimits,
        org_id: Uuid,
        token_id: Option<Uuid>,
        spans: bool,
        now_ns: i64,
    ) -> Result<std::result::Result<IngestPass, Refusal>> {
        let buckets = Self::ingest_buckets(limits, org_id, token_id);
        let quota = match limits.monthly_spans.filter(|_| spans) {
            Some(quota) => Some((quota, self.counts.month_accepted(db, org_id, now_ns).await?)),
            None => None,
        };
        let pass = IngestPass { buckets, quota };
        let mut headers = LimitHeaders::default();
        let mut refused = None;
        for (key, rate) in &pass.buckets {
            let (state, wait) = self.peek(*key, *rate);
            headers.push(state);
            if let Some(wait) = wait
                && refused.is_none()
            {
                refused = Some((key.refusal(*rate), wait));
            }
        }
        if let Some((quota, used)) = pass.quota {
            headers.push(LimitState::monthly(quota, used, now_ns));
            if used >= quota {
                return Ok(Err(Refusal {
                    reason: RefusedFor::Quota,
                    message: format!(
                        "the organization's monthly quota of {quota} spans is used up until the month ends (UTC)"
                    ),
                    retry_after_secs: headers::secs_to_month_end(now_ns),
                    headers,
                }));
            }
        }
        Ok(match refused {
            Some((message, wait)) => Err(Refusal {
                reason: RefusedFor::Rate,
                message,
                retry_after_secs: headers::retry_secs(wait),
                headers,
            }),
            None => Ok(pass),
        })
    }

    /// Once the export is decoded: takes its `items` from its buckets.
    pub async fn charge_ingest(
        &self,
        pass: &IngestPass,
        items: u64,
        now_ns: i64,
    ) -> std::result::Result<LimitHeaders, Refusal> {
        let mut headers = LimitHeaders::default();
        for (key, rate) in &pass.buckets {
            match self.take(*key, *rate, items as f64).await {
                Ok(level) => headers.push(LimitState::bucket(key.name(), key.unit(), *rate, level)),
                Err(wait) => {
                    headers.push(LimitState::bucket(key.name(), key.unit(), *rate, 0.0));
                    return Err(Refusal {
                        reason: RefusedFor::Rate,
                        message: key.refusal(*rate),
                        retry_after_secs: headers::retry_secs(wait),
                        headers,
                    });
                }
            }
        }
        if let Some((quota, used)) = pass.quota {
            headers.push(LimitState::monthly(quota, used + items, now_ns));
        }
        Ok(headers)
    }

    /// A REST API request made with an API token.
    pub async fn admit_api(
        &self,
        limits: &OrgLimits,
        org_id: Uuid,
        token_id: Uuid,
    ) -> std::result::Result<LimitHeaders, Refusal> {
        let token = limits.tokens.get(&token_id).and_then(|token| token.api);
        let buckets = token
            .map(|rate| (BucketKey::TokenApi(token_id), rate))
            .into_iter()
            .chain(limits.api.map(|rate| (BucketKey::OrgApi(org_id), rate)));
        let mut headers = LimitHeaders::default();
        for (key, rate) in buckets {
            match self.take(key, rate, 1.0).await {
                Ok(level) => headers.push(LimitState::bucket(key.name(), key.unit(), rate, level)),
                Err(wait) => {
                    headers.push(LimitState::bucket(key.name(), key.unit(), rate, 0.0));
                    return Err(Refusal {
                        reason: RefusedFor::Rate,
                        message: key.refusal(rate),
                        retry_after_secs: headers::retry_secs(wait),
                        headers,
                    });
                }
            }
        }
        Ok(headers)
    }

    /// The organization's month against its limits and budgets.
    pub async fn report(
        &self,
        db: &DatabaseConnection,
        limits: &OrgLimits,
        budgets: &[crate::governance::types::Budget],
        org_id: Uuid,
        now_ns: i64,
    ) -> Result<LimitsReport> {
        let month_start = calendar::month_start_ns(now_ns);
        let month = counts::stored_since(db, org_id, month_start).await?;
        let last_hour = counts::stored_since(db, org_id, now_ns - calendar::HOUR_NS).await?;
        Ok(LimitsReport {
            month: calendar::month_label(now_ns),
            spans_this_month: month.accepted_spans,
            spans_last_hour: last_hour.accepted_spans,
            monthly_spans: limits.monthly_spans,
            ingest: limits.ingest.map(Rate::in_force),
            api: limits.api.map(Rate::in_force),
            tokens: limits.tokens_in_force(),
            refused: month.refused(),
            budgets: budgets::statuses(db, &self.spend, budgets, org_id, now_ns).await?,
        })
    }
}
