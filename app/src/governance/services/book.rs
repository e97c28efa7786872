//! The policy each organization's spans are ingested under: its newest
//! policy version compiled over the installation's settings, kept per
//! replica until a save makes it stale. A save forgets it here at once and,
//! on PostgreSQL, on every other replica through `NOTIFY` (the server's
//! listener calls [`PolicyBook::forget`]): the next span after a save
//! follows the new version, not one a timer allows.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use entity::policy_version;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::{
    error::{AppError, Result},
    governance::{
        services::{
            guardrails::CompiledGuardrails,
            limits::{InstallationLimits, OrgLimits},
            rules::{rule_regex, usd_nanos},
        },
        types::{Budget, CaptureMode, PolicyDocument},
    },
    telemetry::services::{
        ingest::policy::{CustomRules, IngestPolicy, Sampling},
        span::marks::ContentCapture,
    },
};

/// The `NOTIFY` channel a policy save announces its organization on.
pub const NOTIFY_CHANNEL: &str = "specula_policies";

#[derive(Clone, Debug)]
pub struct PolicyBook {
    installation: Arc<IngestPolicy>,
    installation_limits: InstallationLimits,
    compiled: Arc<RwLock<HashMap<Uuid, Arc<OrgPolicy>>>>,
    /// Goes up on every forget, so a load that read the database before a
    /// save committed does not put its stale result back afterwards.
    generation: Arc<AtomicU64>,
}

/// One organization's policy in force, compiled: what ingest applies and
/// what the evaluate API decides with.
#[derive(Debug)]
pub struct OrgPolicy {
    pub ingest: Arc<IngestPolicy>,
    pub guardrails: CompiledGuardrails,
    /// Rate limits and quota, within the installation's.
    pub limits: OrgLimits,
    pub budgets: Vec<Budget>,
}

impl PolicyBook {
    pub fn new(installation: IngestPolicy, installation_limits: InstallationLimits) -> Self {
        Self {
            installation: Arc::new(installation),
            installation_limits,
            compiled: Arc::default(),
            generation: Arc::default(),
        }
    }

    /// The installation's settings, which organizations' policies refine.
    pub fn installation(&self) -> &IngestPolicy {
        &self.installation
    }

    /// The policy `org_id`'s spans are ingested under now.
    pub async fn for_org(&self, db: &impl ConnectionTrait, org_id: Uuid) -> Result<Arc<IngestPolicy>> {
        Ok(self.policy_for(db, org_id).await?.ingest.clone())
    }

    /// `org_id`'s policy in force, ingest and guardrails.
    pub async fn policy_for(&self, db: &impl ConnectionTrait, org_id: Uuid) -> Result<Arc<OrgPolicy>> {
        if let Some(policy) = self.compiled.read().expect("policy book lock").get(&org_id) {
            return Ok(policy.clone());
        }
        let generation = self.generation.load(Ordering::Acquire);
        let current = latest(db, org_id).await?;
        let compiled = current.and_then(|(version, document)| {
            let guardrails = CompiledGuardrails::compile(&document.guardrails);
            match compile(&self.installation, version, &document).and_then(|ingest| Ok((ingest, guardrails?))) {
                Ok((ingest, guardrails)) => Some(OrgPolicy {
                    ingest: Arc::new(ingest),
                    guardrails,
                    limits: OrgLimits::compile(&self.installation_limits, &document.rate_limits),
                    budgets: document.budgets.clone(),
                }),
                Err(err) => {
                    // Saves are validated; this only happens to a document an
                    // older release accepted. Its spans keep the defaults.
                    tracing::error!(%org_id, version, error = %err, "a saved policy does not compile; using the defaults");
                    None
                }
            }
        });
        let policy = Arc::new(compiled.unwrap_or_else(|| OrgPolicy {
            ingest: self.installation.clone(),
            guardrails: CompiledGuardrails::default(),
            limits: OrgLimits::installation(&self.installation_limits),
            budgets: Vec::new(),
        }));
        let mut cached = self.compiled.write().expect("policy book lock");
        if self.generation.load(Ordering::Acquire) == generation {
            cached.insert(org_id, policy.clone());
        }
        Ok(policy)
    }

    /// Drops what this replica compiled for `org_id` (after a save).
    pub fn forget(&self, org_id: Uuid) {
        let mut compiled = self.compiled.write().expect("policy book lock");
        self.generation.fetch_add(1, Ordering::AcqRel);
        compiled.remove(&org_id);
    }

    /// Drops everything (when saves on other replicas may have gone unheard).
    pub fn forget_all(&self) {
        let mut compiled = self.compiled.write().expect("policy book lock");
        self.generation.fetch_add(1, Ordering::AcqRel);
        compiled.clear();
    }
}

fn capture(mode: CaptureMode) -> ContentCapture {
    match mode {
        CaptureMode::Full => ContentCapture::Full,
        CaptureMode::Hashed => ContentCapture::Hashed,
        CaptureMode::None => ContentCapture::None,
    }
}

/// A percentage of traces as parts per million.
fn per_million(percent: f64) -> u32 {
    (percent.clamp(0.0, 100.0) * 10_000.0).round() as u32
}

/// The newest version's number and document, if any was saved.
pub async fn latest(db: &impl ConnectionTrait, org_id: Uuid) -> Result<Option<(i64, PolicyDocument)>> {
    let row = policy_version::Entity::find()
        .filter(policy_version::Column::OrgId.eq(org_id))
        .order_by_desc(policy_version::Column::Version)
        .one(db)
        .await?;
    row.map(|row| Ok((row.version, parse(&row)?))).transpose()
}

pub(super) fn parse(row: &policy_version::Model) -> Result<PolicyDocument> {
    serde_json::from_str(&row.document).map_err(|err| {
        AppError::Internal(format!(
            "policy version {} of {} is not a policy document: {err}",
            row.version, row.org_id
        ))
    })
}

/// `document` (version `version`) over the installation's settings.
pub fn compile(
    installation: &IngestPolicy,
    version: i64,
    document: &PolicyDocument,
) -> Result<IngestPolicy, String> {
    let custom_rules = match document.redaction.rules.is_empty() {
        true => None,
        false => Some(
            CustomRules::new(
                document
                    .redaction
                    .rules
                    .iter()
                    .map(|rule| {
                        (
                            rule.label.clone(),
                            rule_regex(rule.kind, &rule.pattern, rule.case_insensitive),
                        )
                    })
                    .collect(),
            )
            .map_err(|err| err.to_string())?,
        ),
    };
    let sampling = &document.sampling;
    let samples = sampling.percent < 100.0 || sampling.services.values().any(|percent| *percent < 100.0);
    let byte_limit = |limit: Option<u64>| limit.map(|bytes| usize::try_from(bytes).unwrap_or(usize::MAX));
    Ok(IngestPolicy {
        version,
        capture: document.capture.default.map_or(installation.capture, capture),
        capture_by_service: document
            .capture
            .services
            .iter()
            .map(|(service, mode)| (service.clone(), capture(*mode)))
            .collect(),
        redact_secrets: installation.redact_secrets,
        detector_overrides: document.redaction.detectors.overrides(),
        custom_rules,
        max_value_bytes: byte_limit(document.limits.max_value_bytes).unwrap_or(installation.max_value_bytes),
        max_diff_bytes: byte_limit(document.limits.max_diff_bytes),
        max_span_bytes: byte_limit(document.limits.max_span_bytes),
        sampling: samples.then(|| Sampling {
            per_million: per_million(sampling.percent),
            by_service: sampling
                .services
                .iter()
                .map(|(service, percent)| (service.clone(), per_million(*percent)))
                .collect::<BTreeMap<_, _>>(),
            keep_errors: sampling.keep_errors,
            keep_flagged: sampling.keep_flagged,
            keep_cost_over_nanos: sampling.keep_cost_over_usd.as_deref().and_then(usd_nanos),
        }),
    })
}
