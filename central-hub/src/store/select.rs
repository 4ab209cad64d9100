//! How a search's rows are asked of the engine.

use super::{Filter, Row, StoreError};

impl Filter {
    /// Whether nothing but the kinds (and a time range) narrows the rows: a blank search.
    fn kinds_only(&self) -> bool {
        self.classes.is_empty()
            && self.cameras.is_empty()
            && self.places.is_empty()
            && self.heading.is_none()
            && self.color.is_none()
            && self.upper_color.is_none()
            && self.lower_color.is_none()
            && self.direction.is_none()
            && self.rule.is_none()
            && self.plate.is_none()
            && self.clock.is_empty()
    }
}

/// Rows matching `filter`, newest first. When only kinds narrow it, each kind is asked for
/// alone and the answers merged: with one kind the (kind, ts) index hands rows over newest
/// first and the query stops at the limit, where with `kind IN (..)` covering most rows (a
/// blank search: tracks, crossings, zone events) the planners read and sorted every match
/// (3.5 s over a million events on SQLite). With any other condition one query is better: the
/// planner walks that condition's index instead (split per kind, "bus waiting at the bus stop"
/// went from 38 to 263 ms).
pub(crate) fn select_by_kind(
    filter: &Filter,
    limit: usize,
    mut one: impl FnMut(&Filter) -> Result<Vec<Row>, StoreError>,
) -> Result<Vec<Row>, StoreError> {
    if filter.kinds.len() < 2 || !filter.kinds_only() {
        return one(filter);
    }
    let mut rows = Vec::new();
    for kind in &filter.kinds {
        let f = Filter {
            kinds: vec![kind.clone()],
            ..filter.clone()
        };
        rows.extend(one(&f)?);
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.ts));
    rows.truncate(limit);
    Ok(rows)
}
