//! Alert rules, silences, the history of firings and resolves, channels
//! and deliveries, as the REST API and the Alerts page show them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::governance::types::{optional_whole_number, whole_number};

/// What a rule watches and the level at which it fires.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AlertCondition {
    /// A budget of the policy (its `budgets[].id`) has spent `percent` of
    /// its monthly amount (fires again at each higher threshold of the budget).
    Budget {
        #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 64))]
        budget_id: String,
        /// 1 to 1,000.
        #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 1000))]
        percent: f64,
    },
    /// Failed model calls, as a share of all model calls over the last
    /// `window_minutes`, above `percent` (with at least `min_requests` calls
    /// in the window), optionally of one service or one model.
    ErrorRate {
        /// 5 to 1,440.
        #[serde(deserialize_with = "count")]
        #[cfg_attr(feature = "ssr", schema(value_type = u32, minimum = 5, maximum = 1440))]
        window_minutes: u32,
        /// 0 to 100 (exclusive of 100).
        #[cfg_attr(feature = "ssr", schema(minimum = 0, exclusive_maximum = 100))]
        percent: f64,
        /// 1 to 1,000,000; default 10.
        #[serde(default, deserialize_with = "optional_whole_number")]
        #[cfg_attr(feature = "ssr", schema(value_type = Option<u32>, minimum = 1, maximum = 1_000_000))]
        min_requests: Option<u32>,
        #[serde(default)]
        #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 200))]
        service: Option<String>,
        #[serde(default)]
        #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 200))]
        model: Option<String>,
    },
    /// The 95th percentile of one model's call durations over the last
    /// `window_minutes` above `milliseconds`.
    LatencyP95 {
        #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 200))]
        model: String,
        /// 5 to 1,440.
        #[serde(deserialize_with = "count")]
        #[cfg_attr(feature = "ssr", schema(value_type = u32, minimum = 5, maximum = 1440))]
        window_minutes: u32,
        /// 1 to 3,600,000.
        #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 3_600_000))]
        milliseconds: f64,
    },
    /// What the last 60 minutes cost, above `usd`, optionally of one service.
    HourlyCost {
        /// 0 to 1,000,000,000.
        #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 1_000_000_000))]
        usd: f64,
        #[serde(default)]
        #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 200))]
        service: Option<String>,
    },
    /// At least `count` prompts flagged (an abuse pattern matched, a burst
    /// joined) since the previous check.
    FlaggedPrompts {
        /// 1 to 1,000,000.
        #[serde(deserialize_with = "count")]
        #[cfg_attr(feature = "ssr", schema(value_type = u32, minimum = 1, maximum = 1_000_000))]
        count: u32,
    },
    /// Exports and API requests refused (rate limit, monthly quota, invalid
    /// payload) over the last `window_minutes`, more than `count`.
    IngestRejections {
        /// 5 to 1,440.
        #[serde(deserialize_with = "count")]
        #[cfg_attr(feature = "ssr", schema(value_type = u32, minimum = 5, maximum = 1440))]
        window_minutes: u32,
        /// 0 to 1,000,000.
        #[serde(deserialize_with = "count")]
        #[cfg_attr(feature = "ssr", schema(value_type = u32, minimum = 0, maximum = 1_000_000))]
        count: u32,
    },
    /// No span from `service` for `minutes` (1 to 10,080).
    SilentService {
        #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 200))]
        service: String,
        #[serde(deserialize_with = "count")]
        #[cfg_attr(feature = "ssr", schema(value_type = u32, minimum = 1, maximum = 10_080))]
        minutes: u32,
    },
}

impl AlertCondition {
    /// The `kind` as JSON names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Budget { .. } => "budget",
            Self::ErrorRate { .. } => "error_rate",
            Self::LatencyP95 { .. } => "latency_p95",
            Self::HourlyCost { .. } => "hourly_cost",
            Self::FlaggedPrompts { .. } => "flagged_prompts",
            Self::IngestRejections { .. } => "ingest_rejections",
            Self::SilentService { .. } => "silent_service",
        }
    }

    /// The level the rule compares its figure with.
    pub fn threshold(&self) -> f64 {
        match self {
            Self::Budget { percent, .. } | Self::ErrorRate { percent, .. } => *percent,
            Self::LatencyP95 { milliseconds, .. } => *milliseconds,
            Self::HourlyCost { usd, .. } => *usd,
            Self::FlaggedPrompts { count } | Self::IngestRejections { count, .. } => f64::from(*count),
            Self::SilentService { minutes, .. } => f64::from(*minutes),
        }
    }

    /// Whether `value` puts the rule in the firing state: budgets, flagged
    /// prompts and silences fire on reaching their level, rates, latencies,
    /// costs and rejections on going above it.
    pub fn fires_at(&self, value: f64) -> bool {
        match self {
            Self::Budget { .. } | Self::FlaggedPrompts { .. } | Self::SilentService { .. } => {
                value >= self.threshold()
            }
            _ => value > self.threshold(),
        }
    }

    /// The unit of its figures, for messages.
    pub fn unit(&self) -> &'static str {
        match self {
            Self::Budget { .. } | Self::ErrorRate { .. } => "%",
            Self::LatencyP95 { .. } => "ms",
            Self::HourlyCost { .. } => "USD",
            Self::FlaggedPrompts { .. } => "prompts",
            Self::IngestRejections { .. } => "refusals",
            Self::SilentService { .. } => "minutes",
        }
    }
}

/// A whole number of minutes or things, also when JSON spells it `60.0`.
fn count<'de, D>(deserializer: D) -> Result<u32, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let whole = whole_number(deserializer)?;
    u32::try_from(whole).map_err(|_| serde::de::Error::custom(format!("{whole} is out of range")))
}

/// A rule as it is created or replaced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AlertRuleInput {
    /// 1 to 100 characters.
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 100, pattern = r"\S"))]
    pub name: String,
    pub condition: AlertCondition,
    /// The organization's channels to notify (at most 10, repeats ignored); none: the
    /// history records the rule's firings and resolves only.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(max_items = 10))]
    pub channel_ids: Vec<Uuid>,
    /// After a notification, the rule's next firing within this many
    /// minutes is recorded but not sent, so a flapping rule does not flood
    /// its channels (0 to 1,440; default 10).
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<u32>, minimum = 0, maximum = 1440))]
    pub quiet_minutes: Option<u32>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A rule's state: `ok` (never fired), `firing`, or `resolved` (fired, and is fine again).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Ok,
    Firing,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "firing" => Self::Firing,
            "resolved" => Self::Resolved,
            _ => Self::Ok,
        }
    }
}

/// A rule with its state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertRule {
    pub id: Uuid,
    pub name: String,
    pub condition: AlertCondition,
    pub channel_ids: Vec<Uuid>,
    pub quiet_minutes: u32,
    pub enabled: bool,
    /// RFC 3339.
    pub created_at: String,
    pub updated_at: String,
    pub state: AlertState,
    /// When it last changed state (RFC 3339); absent while it never fired.
    pub state_since: Option<String>,
    /// The figure of the last check, in the condition's unit.
    pub last_value: Option<f64>,
    /// When the evaluator last checked it (RFC 3339).
    pub last_evaluated_at: Option<String>,
    /// The end of the silence covering it now, if any (RFC 3339).
    pub silenced_until: Option<String>,
}

/// The organization's rules, and how the evaluator is doing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertRuleList {
    pub rules: Vec<AlertRule>,
    pub evaluator: EvaluatorStatus,
}

/// The evaluator job's last pass (over every organization).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EvaluatorStatus {
    /// How often it runs, seconds.
    pub interval_seconds: u64,
    /// RFC 3339; absent before the first pass.
    pub last_pass_started_at: Option<String>,
    pub last_pass_finished_at: Option<String>,
    /// Rules checked and firing in that pass, over all organizations.
    pub last_pass_rules: u64,
    pub last_pass_firing: u64,
    pub last_pass_milliseconds: f64,
}

/// A silence: notifications of one rule (or of all the organization's
/// rules) are held back until `ends_at`; the history still records them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SilenceInput {
    /// The rule to silence; absent: all the organization's rules.
    #[serde(default)]
    pub rule_id: Option<Uuid>,
    /// RFC 3339, in the future, at most 90 days ahead.
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub ends_at: String,
    /// Why (up to 500 characters).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(max_length = 500))]
    pub comment: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Silence {
    pub id: Uuid,
    pub rule_id: Option<Uuid>,
    /// RFC 3339.
    pub starts_at: String,
    pub ends_at: String,
    pub comment: String,
    /// Who made it.
    pub created_by: String,
    /// Whether it is in force now.
    pub active: bool,
}

/// One firing or resolve of a rule, with the figures behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertEvent {
    pub id: i64,
    pub rule_id: Uuid,
    pub rule_name: String,
    /// The condition's kind (`error_rate`, …).
    pub condition_kind: String,
    /// `firing` or `resolved`.
    pub kind: String,
    /// RFC 3339.
    pub at: String,
    /// The figure that caused it, in the condition's unit; absent without data.
    pub value: Option<f64>,
    pub threshold: f64,
    /// One line saying what happened, with the figures.
    pub summary: String,
    /// Where in Specula the spans or chart behind it are (a path of the UI).
    pub link: String,
    /// What became of its notification: `sent`, `silenced`, `quiet`
    /// (within the rule's quiet period) or `no_channels`.
    pub notice: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertEventPage {
    pub events: Vec<AlertEvent>,
    /// Pass as `before` for older events; absent on the last page.
    pub next_before: Option<i64>,
}

/// How an email channel secures its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587, usually); refused if the server does not offer it.
    Starttls,
    /// TLS from the first byte (port 465, usually).
    Tls,
}

/// Where a channel sends notifications.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChannelSettings {
    /// A JSON POST to `url`, signed in `X-Specula-Signature`
    /// (`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the
    /// channel's signing secret, which creating the channel answers once).
    Webhook {
        /// `http` or `https`, up to 2,000 characters.
        #[cfg_attr(
            feature = "ssr",
            schema(
                max_length = 2000,
                pattern = "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@\\s]+([/?#]\\S*)?$"
            )
        )]
        url: String,
    },
    /// A Slack (or compatible) incoming webhook, sent Block Kit messages.
    Slack {
        #[cfg_attr(
            feature = "ssr",
            schema(
                max_length = 2000,
                pattern = "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@\\s]+([/?#]\\S*)?$"
            )
        )]
        url: String,
    },
    /// Email over SMTP, with a plain-text and an HTML part.
    Email {
        #[cfg_attr(
            feature = "ssr",
            schema(min_length = 1, max_length = 253, pattern = "^[A-Za-z0-9.-]+$")
        )]
        host: String,
        #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 65535))]
        port: u16,
        security: SmtpSecurity,
        #[serde(default)]
        #[cfg_attr(feature = "ssr", schema(max_length = 320))]
        username: Option<String>,
        /// Stored encrypted; never shown again.
        #[serde(default)]
        #[cfg_attr(feature = "ssr", schema(max_length = 1000))]
        password: Option<String>,
        /// The sender: an address, or a name and address (`Specula <alerts@example.com>`).
        #[cfg_attr(feature = "ssr", schema(min_length = 3, max_length = 320))]
        from: String,
        /// 1 to 20 recipients, each written as `from` is.
        #[cfg_attr(feature = "ssr", schema(min_items = 1, max_items = 20))]
        to: Vec<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    /// 1 to 100 characters.
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 100, pattern = r"\S"))]
    pub name: String,
    pub settings: ChannelSettings,
}

/// A channel as listed: what it sends to (secrets left out) and how its
/// deliveries are going.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Channel {
    pub id: Uuid,
    pub name: String,
    /// `webhook`, `slack` or `email`.
    pub kind: String,
    /// Where it sends: the URL's host, or the SMTP server and recipients.
    pub target: String,
    pub created_at: String,
    /// `delivered` or `failed` (the last delivery's outcome); absent before the first.
    pub last_status: Option<String>,
    pub last_status_at: Option<String>,
    pub last_error: Option<String>,
    /// Failed deliveries since the last success; a channel with any is failing.
    pub failures_in_a_row: u64,
    /// Deliveries waiting for a retry.
    pub pending: u64,
}

/// A new channel; a webhook's signing secret is shown here only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedChannel {
    #[serde(flatten)]
    pub channel: Channel,
    /// The webhook's signing secret (`whsec_…`), shown once.
    pub signing_secret: Option<String>,
}

/// What one delivery (or a "Send test") did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Delivery {
    pub id: i64,
    pub channel_id: Uuid,
    /// `pending` (waiting for a retry), `delivered` or `failed`.
    pub status: String,
    pub attempts: u64,
    /// The HTTP status (webhook, Slack) or SMTP reply code of the last attempt.
    pub response_code: Option<i64>,
    pub last_error: Option<String>,
    pub test: bool,
    pub created_at: String,
    /// When the next attempt is due (pending) or when it finished.
    pub next_attempt_at: Option<String>,
    pub finished_at: Option<String>,
}
