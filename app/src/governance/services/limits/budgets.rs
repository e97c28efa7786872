//! Monthly cost budgets: the month's spend from the hourly usage rollups
//! (by the spans' start time, UTC months), per service and token, kept per
//! replica for [`SPEND_TTL`]; each budget's share, projection to the
//! month's end and highest threshold crossed; and the hard budgets the
//! evaluate API denies by.

use std::{collections::HashMap, sync::Arc, time::Duration};

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use uuid::Uuid;

use super::calendar::{month_end_ns, month_start_ns};
use crate::{
    error::Result,
    format::usd_exact,
    governance::{
        services::rules::usd_nanos,
        types::{Budget, BudgetStatus},
    },
    platform::services::{expiring_cache::ExpiringCache, transaction::placeholder},
};

/// How long a month's spend is reused before it is read again.
pub const SPEND_TTL: Duration = Duration::from_secs(10);

/// An organization's spend this month, nano-dollars.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MonthSpend {
    pub month_start_ns: i64,
    pub total: i64,
    pub by_service: HashMap<String, i64>,
    pub by_token: HashMap<Uuid, i64>,
    pub by_service_and_token: HashMap<(String, Uuid), i64>,
}

impl MonthSpend {
    pub fn spent_on(&self, budget: &Budget) -> i64 {
        let token = budget.token_id.as_deref().and_then(|id| Uuid::parse_str(id).ok());
        let spent = match (&budget.service, token) {
            (Some(service), Some(token)) => self.by_service_and_token.get(&(service.clone(), token)),
            (Some(service), None) => self.by_service.get(service),
            (None, Some(token)) => self.by_token.get(&token),
            (None, None) => Some(&self.total),
        };
        spent.copied().unwrap_or(0)
    }
}

#[derive(Clone, Debug)]
pub struct SpendCache {
    months: ExpiringCache<Uuid, Arc<MonthSpend>>,
}

impl Default for SpendCache {
    fn default() -> Self {
        Self {
            months: ExpiringCache::new(SPEND_TTL),
        }
    }
}

impl SpendCache {
    /// `org_id`'s spend this month, read at most every [`SPEND_TTL`].
    pub async fn month(&self, db: &DatabaseConnection, org_id: Uuid, now_ns: i64) -> Result<Arc<MonthSpend>> {
        let month_start_ns = month_start_ns(now_ns);
        if let Some(spend) = self
            .months
            .get(&org_id)
            .filter(|spend| spend.month_start_ns == month_start_ns)
        {
            return Ok(spend);
        }
        let spend = Arc::new(read_month(db, org_id, month_start_ns).await?);
        self.months.insert(org_id, spend.clone());
        Ok(spend)
    }
}

async fn read_month(db: &DatabaseConnection, org_id: Uuid, month_start_ns: i64) -> Result<MonthSpend> {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT service_name, token_id, CAST(SUM(cost_nanos) AS BIGINT) FROM usage_rollups \
         WHERE org_id = {} AND hour_ns >= {} GROUP BY service_name, token_id",
        placeholder(backend, 1),
        placeholder(backend, 2),
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [org_id.into(), month_start_ns.into()],
        ))
        .await?
        .iter()
        .map(|row| row.try_get_many_by_index::<(String, Uuid, i64)>())
        .collect::<Result<Vec<_>, _>>()?;
    let mut spend = MonthSpend {
        month_start_ns,
        ..MonthSpend::default()
    };
    for (service, token, cost) in rows {
        spend.total += cost;
        *spend.by_service.entry(service.clone()).or_default() += cost;
        *spend.by_token.entry(token).or_default() += cost;
        *spend.by_service_and_token.entry((service, token)).or_default() += cost;
    }
    Ok(spend)
}

/// One budget's month at `now_ns`, having spent `spent_nanos`.
pub fn status(budget: &Budget, spent_nanos: i64, now_ns: i64) -> BudgetStatus {
    let budget_nanos = usd_nanos(&budget.monthly_usd).unwrap_or(0).max(1);
    let (start, end) = (month_start_ns(now_ns), month_end_ns(now_ns));
    // Scaled by the share of the month gone, counted from at least an hour
    // so that the first minutes of a month do not project wildly.
    let elapsed = (now_ns - start).max(3_600_000_000_000) as f64;
    let projected = (spent_nanos as f64 * (end - start) as f64 / elapsed).round() as i64;
    let percent = spent_nanos as f64 * 100.0 / budget_nanos as f64;
    let mut thresholds = budget.thresholds.clone();
    thresholds.sort_unstable();
    BudgetStatus {
        id: budget.id.clone(),
        service: budget.service.clone(),
        token_id: budget.token_id.clone(),
        monthly_usd: budget.monthly_usd.clone(),
        spent_usd: usd_exact(spent_nanos),
        percent,
        projected_usd: usd_exact(projected),
        projected_percent: projected as f64 * 100.0 / budget_nanos as f64,
        crossed: thresholds
            .iter()
            .rev()
            .find(|threshold| percent >= f64::from(**threshold))
            .copied(),
        thresholds,
        hard: budget.hard,
    }
}

pub async fn statuses(
    db: &DatabaseConnection,
    cache: &SpendCache,
    budgets: &[Budget],
    org_id: Uuid,
    now_ns: i64,
) -> Result<Vec<BudgetStatus>> {
    if budgets.is_empty() {
        return Ok(Vec::new());
    }
    let spend = cache.month(db, org_id, now_ns).await?;
    Ok(budgets
        .iter()
        .map(|budget| status(budget, spend.spent_on(budget), now_ns))
        .collect())
}

/// A hard budget a call is covered by and that is spent.
#[derive(Clone, Debug, PartialEq)]
pub struct SpentBudget {
    pub id: String,
    pub detail: String,
}

/// The hard budgets spent that cover a call for `service` made with `token_id`.
pub fn spent_hard_budgets(
    budgets: &[Budget],
    spend: &MonthSpend,
    service: Option<&str>,
    token_id: Option<Uuid>,
) -> Vec<SpentBudget> {
    budgets
        .iter()
        .filter(|budget| budget.hard)
        .filter(|budget| {
            let service_covered = budget
                .service
                .as_deref()
                .is_none_or(|covered| service == Some(covered));
            let token_covered = budget.token_id.as_deref().is_none_or(|covered| {
                token_id.is_some_and(|token| Uuid::parse_str(covered).ok() == Some(token))
            });
            service_covered && token_covered
        })
        .filter_map(|budget| {
            let limit = usd_nanos(&budget.monthly_usd)?;
            let spent = spend.spent_on(budget);
            (spent >= limit).then(|| SpentBudget {
                id: budget.id.clone(),
                detail: format!(
                    "budget {} of ${} this month is spent (${})",
                    budget.id,
                    budget.monthly_usd,
                    usd_exact(spent)
                ),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(id: &str, usd: &str, hard: bool) -> Budget {
        Budget {
            id: id.into(),
            monthly_usd: usd.into(),
            service: None,
            token_id: None,
            thresholds: vec![100, 50, 80],
            hard,
        }
    }

    // 2026-12-11T00:00:00Z: ten days of a 31-day month gone.
    const DEC_11: i64 = 1_796_947_200_000_000_000;

    #[test]
    fn status_projects_the_month_and_names_the_highest_threshold_crossed() {
        let status = status(&budget("team", "100", false), 40_000_000_000, DEC_11);
        assert_eq!(status.spent_usd, "40.000000000");
        assert!((status.percent - 40.0).abs() < 1e-9);
        // $40 in 10 days → $124 in 31.
        assert_eq!(status.projected_usd, "124.000000000");
        assert_eq!(status.crossed, None);
        assert_eq!(status.thresholds, vec![50, 80, 100]);
        let over = super::status(&budget("team", "100", false), 85_000_000_000, DEC_11);
        assert_eq!(over.crossed, Some(80));
    }

    #[test]
    fn hard_budgets_cover_the_organization_a_service_or_a_token() {
        let token = Uuid::from_u128(7);
        let spend = MonthSpend {
            month_start_ns: 0,
            total: 50_000_000_000,
            by_service: HashMap::from([("bot".to_owned(), 30_000_000_000)]),
            by_token: HashMap::from([(token, 20_000_000_000)]),
            by_service_and_token: HashMap::from([(("bot".to_owned(), token), 5_000_000_000)]),
        };
        let mut bot = budget("bot", "25", true);
        bot.service = Some("bot".into());
        let mut tok = budget("tok", "20", true);
        tok.token_id = Some(token.to_string());
        let soft = budget("soft", "1", false);
        let org = budget("org", "60", true);
        let mut pair = budget("pair", "5", true);
        pair.service = Some("bot".into());
        pair.token_id = Some(token.to_string());
        let budgets = [bot, tok, soft, org, pair];
        let ids = |service, token| {
            spent_hard_budgets(&budgets, &spend, service, token)
                .into_iter()
                .map(|spent| spent.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(Some("bot"), None), ["bot"]);
        assert_eq!(ids(Some("bot"), Some(token)), ["bot", "tok", "pair"]);
        assert_eq!(ids(Some("other"), Some(token)), ["tok"]);
        assert!(
            ids(None, None).is_empty(),
            "org budget not spent, soft one ignored"
        );
    }
}
