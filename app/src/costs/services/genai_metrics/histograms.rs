//! Histogram points over time: what a cumulative series counted between
//! two of its points, and percentiles read from explicit buckets. Pure
//! code over plain structs, so every rule has a small test.

/// Explicit histogram buckets: `counts[i]` values fell in
/// `(bounds[i-1], bounds[i]]`, the first below `bounds[0]` and the last
/// above the last bound, as the converter stores them.
#[derive(Clone, Debug, PartialEq)]
pub struct ExplicitBuckets {
    pub bounds: Vec<f64>,
    pub counts: Vec<i64>,
}

impl ExplicitBuckets {
    /// Reads the converter's `{"explicit_bounds": [..], "bucket_counts": [..]}`;
    /// `None` unless it has one more count than bounds.
    pub fn parse(json: &str) -> Option<Self> {
        // Typed, not through `Value`: a range reads thousands of these.
        #[derive(serde::Deserialize)]
        struct Stored {
            explicit_bounds: Vec<f64>,
            bucket_counts: Vec<u64>,
        }
        let stored: Stored = serde_json::from_str(json).ok()?;
        let counts: Vec<i64> = stored
            .bucket_counts
            .into_iter()
            .map(|count| i64::try_from(count).ok())
            .collect::<Option<_>>()?;
        let bounds = stored.explicit_bounds;
        (counts.len() == bounds.len() + 1 && bounds.iter().all(|bound| bound.is_finite()))
            .then_some(Self { bounds, counts })
    }

    /// The range of bucket `index`. The open-ended ends are closed at zero
    /// below (durations and token counts are not negative) and at the last
    /// bound above, as Prometheus' `histogram_quantile` does.
    fn range(&self, index: usize) -> (f64, f64) {
        let (first, last) = (self.bounds[0], self.bounds[self.bounds.len() - 1]);
        match index {
            0 => (first.min(0.0), first),
            i if i >= self.bounds.len() => (last, last),
            i => (self.bounds[i - 1], self.bounds[i]),
        }
    }
}

/// One histogram point as stored (the fields the charts need).
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramPoint {
    pub name: String,
    pub unit: String,
    pub service_name: String,
    /// The attributes' JSON text: part of the series' identity.
    pub attributes: String,
    pub start_time_ns: i64,
    pub time_ns: i64,
    pub cumulative: bool,
    pub count: i64,
    pub sum: f64,
    /// Explicit-bucket histograms only.
    pub buckets: Option<ExplicitBuckets>,
}

impl HistogramPoint {
    fn same_series(&self, other: &HistogramPoint) -> bool {
        self.attributes == other.attributes
            && self.service_name == other.service_name
            && self.name == other.name
    }

    /// Turns this point into what it counted since `earlier`, a point of
    /// the same series; `false`, and the point unchanged, when the series
    /// was reset in between.
    fn subtract(&mut self, earlier: &HistogramPoint) -> bool {
        if self.count < earlier.count || self.start_time_ns > earlier.start_time_ns {
            return false;
        }
        match (&mut self.buckets, &earlier.buckets) {
            (Some(now), Some(before)) if now.bounds == before.bounds => {
                if now
                    .counts
                    .iter()
                    .zip(&before.counts)
                    .any(|(now, before)| now < before)
                {
                    return false;
                }
                for (now, before) in now.counts.iter_mut().zip(&before.counts) {
                    *now -= before;
                }
            }
            (Some(_), Some(_)) => return false,
            (now, _) => *now = None,
        }
        self.count -= earlier.count;
        self.sum -= earlier.sum;
        true
    }
}

/// The deltas of `points` that fall in the range starting at `since_ns`:
/// delta points as they are, cumulative points minus their series'
/// previous point. A cumulative series' first point counts only if the
/// series started inside the range; otherwise it is the baseline. Points
/// repeated with the same start and time (a retried export) count once.
pub fn deltas(mut points: Vec<HistogramPoint>, since_ns: i64) -> Vec<HistogramPoint> {
    // Each series together and in time order, without copying any point.
    points.sort_unstable_by(|a, b| {
        (
            &a.name,
            &a.service_name,
            &a.attributes,
            a.time_ns,
            a.start_time_ns,
        )
            .cmp(&(
                &b.name,
                &b.service_name,
                &b.attributes,
                b.time_ns,
                b.start_time_ns,
            ))
    });
    points.dedup_by(|later, earlier| {
        later.time_ns == earlier.time_ns
            && later.start_time_ns == earlier.start_time_ns
            && later.same_series(earlier)
    });
    // Backwards, so that each point still holds its own value when the
    // next one subtracts it.
    let mut counts = vec![false; points.len()];
    for index in (0..points.len()).rev() {
        let (before, rest) = points.split_at_mut(index);
        let point = &mut rest[0];
        let earlier = before.last().filter(|earlier| earlier.same_series(point));
        let counted = match earlier {
            _ if !point.cumulative => true,
            Some(earlier) if earlier.cumulative => {
                point.subtract(earlier);
                true
            }
            _ => point.start_time_ns >= since_ns,
        };
        counts[index] = counted && point.time_ns >= since_ns;
    }
    points
        .into_iter()
        .zip(counts)
        .filter_map(|(point, counted)| counted.then_some(point))
        .collect()
}

/// Explicit-bucket counts gathered from many points, summed per set of
/// bounds (a series keeps its bounds; different SDKs may not agree).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Distribution {
    histograms: Vec<ExplicitBuckets>,
}

impl Distribution {
    /// Adds `buckets`, their bounds scaled by `scale` (seconds to milliseconds).
    pub fn add(&mut self, buckets: &ExplicitBuckets, scale: f64) {
        let bounds: Vec<f64> = buckets.bounds.iter().map(|bound| bound * scale).collect();
        match self
            .histograms
            .iter_mut()
            .find(|histogram| histogram.bounds == bounds)
        {
            Some(histogram) => {
                for (mine, theirs) in histogram.counts.iter_mut().zip(&buckets.counts) {
                    *mine += theirs;
                }
            }
            None => self.histograms.push(ExplicitBuckets {
                bounds,
                counts: buckets.counts.clone(),
            }),
        }
    }

    /// The `quantile` (0 to 1), interpolated inside its bucket as if the
    /// bucket's values were spread evenly; `None` without data.
    pub fn quantile(&self, quantile: f64) -> Option<f64> {
        let total: i64 = self
            .histograms
            .iter()
            .flat_map(|histogram| &histogram.counts)
            .map(|count| (*count).max(0))
            .sum();
        if total == 0 || !quantile.is_finite() {
            return None;
        }
        // The rank of the wanted value among the sorted values (1-based).
        let rank = (quantile.clamp(0.0, 1.0) * total as f64).ceil().max(1.0);
        if let [histogram] = &self.histograms[..] {
            let mut below = 0.0;
            for (index, &count) in histogram.counts.iter().enumerate() {
                let count = count.max(0) as f64;
                if count > 0.0 && below + count >= rank {
                    let (lower, upper) = histogram.range(index);
                    return Some(lower + (upper - lower) * (rank - below) / count);
                }
                below += count;
            }
            return None;
        }
        // Several sets of bounds: find where the summed piecewise-linear
        // distribution reaches the rank.
        let pieces: Vec<(f64, f64, f64)> = self
            .histograms
            .iter()
            .flat_map(|histogram| {
                histogram
                    .counts
                    .iter()
                    .enumerate()
                    .filter(|(_, count)| **count > 0)
                    .map(|(index, count)| {
                        let (lower, upper) = histogram.range(index);
                        (lower, upper, *count as f64)
                    })
            })
            .collect();
        let below = |x: f64| -> f64 {
            pieces
                .iter()
                .map(|&(lower, upper, count)| {
                    if upper <= lower {
                        if x >= upper { count } else { 0.0 }
                    } else {
                        count * ((x - lower) / (upper - lower)).clamp(0.0, 1.0)
                    }
                })
                .sum()
        };
        let mut low = pieces.iter().map(|piece| piece.0).fold(f64::INFINITY, f64::min);
        let mut high = pieces
            .iter()
            .map(|piece| piece.1)
            .fold(f64::NEG_INFINITY, f64::max);
        for _ in 0..100 {
            let middle = (low + high) / 2.0;
            if below(middle) >= rank {
                high = middle;
            } else {
                low = middle;
            }
        }
        Some(high)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const SECOND: i64 = 1_000_000_000;
    /// 2026-01-01T00:00:00Z.
    pub(crate) const T0: i64 = 1_767_225_600 * SECOND;

    pub(crate) fn histogram(bounds: &[f64], counts: &[i64]) -> ExplicitBuckets {
        ExplicitBuckets {
            bounds: bounds.to_vec(),
            counts: counts.to_vec(),
        }
    }

    pub(crate) fn point(
        attributes: &str,
        start: i64,
        time: i64,
        cumulative: bool,
        count: i64,
        sum: f64,
    ) -> HistogramPoint {
        HistogramPoint {
            name: "gen_ai.client.token.usage".to_owned(),
            unit: "{token}".to_owned(),
            service_name: "coder".to_owned(),
            attributes: attributes.to_owned(),
            start_time_ns: start,
            time_ns: time,
            cumulative,
            count,
            sum,
            buckets: None,
        }
    }

    fn sums(mut deltas: Vec<HistogramPoint>) -> Vec<(i64, i64, f64)> {
        deltas.sort_by_key(|delta| delta.time_ns);
        deltas
            .into_iter()
            .map(|delta| (delta.time_ns, delta.count, delta.sum))
            .collect()
    }

    #[test]
    fn delta_points_add_up_as_they_are_and_count_once() {
        let points = vec![
            point("{}", T0, T0 + 60 * SECOND, false, 2, 100.0),
            point("{}", T0 + 60 * SECOND, T0 + 120 * SECOND, false, 3, 50.0),
            // A retried export stores the same point again.
            point("{}", T0 + 60 * SECOND, T0 + 120 * SECOND, false, 3, 50.0),
        ];
        assert_eq!(
            sums(deltas(points, T0)),
            [(T0 + 60 * SECOND, 2, 100.0), (T0 + 120 * SECOND, 3, 50.0)]
        );
    }

    #[test]
    fn cumulative_points_become_deltas_per_series() {
        let input = r#"{"gen_ai.token.type":"input"}"#;
        let output = r#"{"gen_ai.token.type":"output"}"#;
        let points = vec![
            // Started inside the range: the first point counts whole.
            point(input, T0, T0 + 60 * SECOND, true, 2, 100.0),
            point(output, T0, T0 + 60 * SECOND, true, 2, 10.0),
            point(input, T0, T0 + 120 * SECOND, true, 5, 400.0),
            point(output, T0, T0 + 120 * SECOND, true, 5, 25.0),
            // Nothing new: a zero delta.
            point(input, T0, T0 + 180 * SECOND, true, 5, 400.0),
        ];
        let mut out = sums(deltas(points, T0));
        out.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(
            out,
            [
                (T0 + 60 * SECOND, 2, 10.0),
                (T0 + 60 * SECOND, 2, 100.0),
                (T0 + 120 * SECOND, 3, 15.0),
                (T0 + 120 * SECOND, 3, 300.0),
                (T0 + 180 * SECOND, 0, 0.0),
            ]
        );
    }

    #[test]
    fn a_series_that_began_before_the_range_counts_from_its_baseline() {
        let since = T0 + 3600 * SECOND;
        let points = vec![
            // Read from the look-back window: only a baseline.
            point("{}", T0, since - 60 * SECOND, true, 10, 1000.0),
            point("{}", T0, since + 60 * SECOND, true, 12, 1300.0),
        ];
        assert_eq!(sums(deltas(points, since)), [(since + 60 * SECOND, 2, 300.0)]);
        // Without a baseline, the first point only starts the count.
        let points = vec![
            point("{}", T0, since + 60 * SECOND, true, 12, 1300.0),
            point("{}", T0, since + 120 * SECOND, true, 13, 1400.0),
        ];
        assert_eq!(sums(deltas(points, since)), [(since + 120 * SECOND, 1, 100.0)]);
    }

    #[test]
    fn a_reset_counts_the_point_itself() {
        let points = vec![
            point("{}", T0, T0 + 60 * SECOND, true, 10, 1000.0),
            // The count dropped: the exporter restarted.
            point("{}", T0, T0 + 120 * SECOND, true, 3, 300.0),
            point("{}", T0, T0 + 180 * SECOND, true, 4, 350.0),
            // A later start time is a restart too, even when the count grew.
            point("{}", T0 + 190 * SECOND, T0 + 240 * SECOND, true, 6, 600.0),
        ];
        assert_eq!(
            sums(deltas(points, T0)),
            [
                (T0 + 60 * SECOND, 10, 1000.0),
                (T0 + 120 * SECOND, 3, 300.0),
                (T0 + 180 * SECOND, 1, 50.0),
                (T0 + 240 * SECOND, 6, 600.0),
            ]
        );
    }

    #[test]
    fn cumulative_buckets_are_subtracted_too() {
        let mut first = point("{}", T0, T0 + 60 * SECOND, true, 3, 1.5);
        first.buckets = Some(histogram(&[0.5, 1.0], &[1, 2, 0]));
        let mut second = point("{}", T0, T0 + 120 * SECOND, true, 7, 5.5);
        second.buckets = Some(histogram(&[0.5, 1.0], &[1, 4, 2]));
        let mut out = deltas(vec![second, first], T0);
        out.sort_by_key(|delta| delta.time_ns);
        assert_eq!(out[1].buckets, Some(histogram(&[0.5, 1.0], &[0, 2, 2])));
        assert_eq!(out[1].count, 4);
    }

    #[test]
    fn percentiles_interpolate_inside_the_bucket() {
        let mut distribution = Distribution::default();
        assert_eq!(distribution.quantile(0.5), None);
        // Ten values in (0.1, 0.5] s, ten in (0.5, 1] s.
        distribution.add(&histogram(&[0.1, 0.5, 1.0], &[0, 10, 10, 0]), 1000.0);
        let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-6);
        assert!(close(distribution.quantile(0.5), 500.0));
        assert!(close(distribution.quantile(0.25), 300.0));
        assert!(close(distribution.quantile(0.95), 950.0));
        // The overflow bucket reads as the last bound; the first starts at zero.
        let mut tails = Distribution::default();
        tails.add(&histogram(&[2.0], &[5, 3]), 1.0);
        assert!(close(tails.quantile(0.95), 2.0));
        assert!(close(tails.quantile(0.1), 0.4));
        // Two SDKs with different bounds: the same answer as one histogram
        // when the values agree.
        let mut mixed = Distribution::default();
        mixed.add(&histogram(&[0.1, 0.5, 1.0], &[0, 10, 0, 0]), 1000.0);
        mixed.add(&histogram(&[0.5, 1.0], &[0, 10, 0]), 1000.0);
        assert!(close(mixed.quantile(0.95), 950.0), "{:?}", mixed.quantile(0.95));
        assert!(close(mixed.quantile(0.25), 300.0), "{:?}", mixed.quantile(0.25));
    }

    #[test]
    fn bucket_json_is_read_as_the_converter_writes_it() {
        let parsed = ExplicitBuckets::parse(r#"{"explicit_bounds":[1.0,100.0],"bucket_counts":[0,1,2]}"#);
        assert_eq!(parsed, Some(histogram(&[1.0, 100.0], &[0, 1, 2])));
        assert_eq!(
            ExplicitBuckets::parse(r#"{"explicit_bounds":[1.0],"bucket_counts":[0,1,2]}"#),
            None
        );
        assert_eq!(ExplicitBuckets::parse("not json"), None);
    }
}
