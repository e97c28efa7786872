//! Metric points from `/v1/metrics`: sums, gauges, histograms (explicit and
//! exponential) and summaries, one row per data point.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MetricPoints::Table)
                    .if_not_exists()
                    .col(big_pk_auto(MetricPoints::Id))
                    .col(uuid(MetricPoints::OrgId))
                    .col(string(MetricPoints::Name))
                    .col(string(MetricPoints::Unit))
                    .col(string_len(MetricPoints::Kind, 24))
                    .col(string(MetricPoints::ServiceName))
                    .col(text(MetricPoints::Attributes))
                    .col(big_integer(MetricPoints::StartTimeNs))
                    .col(big_integer(MetricPoints::TimeNs))
                    .col(double_null(MetricPoints::Value))
                    .col(big_integer_null(MetricPoints::Count))
                    .col(double_null(MetricPoints::Sum))
                    .col(double_null(MetricPoints::Min))
                    .col(double_null(MetricPoints::Max))
                    .col(text_null(MetricPoints::Buckets))
                    .col(string_len_null(MetricPoints::Temporality, 16))
                    .col(boolean_null(MetricPoints::Monotonic))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_metric_points_org_name_time")
                    .table(MetricPoints::Table)
                    .col(MetricPoints::OrgId)
                    .col(MetricPoints::Name)
                    .col(MetricPoints::TimeNs)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MetricPoints::Table).if_exists().to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum MetricPoints {
    Table,
    Id,
    OrgId,
    Name,
    Unit,
    /// `gauge`, `sum`, `histogram`, `exponential_histogram` or `summary`.
    Kind,
    ServiceName,
    /// JSON: the point's attributes, with the resource's under `resource`.
    Attributes,
    StartTimeNs,
    TimeNs,
    /// Gauges and sums.
    Value,
    Count,
    Sum,
    Min,
    Max,
    /// JSON: explicit bounds and counts, exponential buckets, or summary quantiles.
    Buckets,
    /// `delta` or `cumulative`.
    Temporality,
    Monotonic,
}
