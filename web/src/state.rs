//! The explorer's state and the messages that change it: plain Rust, no DOM,
//! so every behaviour of the views is unit-tested natively.

use gicx_core::catalogue::{decode, FieldKind, RegRef, RegisterDesc, CATALOGUE};
use serde::{Deserialize, Serialize};

use crate::value::{parse_register_value, parse_value, ValueError};

/// Everything the Registers view shows, as typed by the user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppState {
    /// The search box text.
    pub query: String,
    /// The selected family, by architectural pattern (`GICD_TYPER2`,
    /// `GICD_ISENABLER<n>`): stable across catalogue edits, unlike an index.
    pub selected: Option<String>,
    /// The instance of an indexed family (`n` in `GICD_ISENABLER<n>`).
    pub instance: u32,
    /// The value tester text.
    pub value: String,
}

/// Everything a person can do in the Registers view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    Search(String),
    /// Select a family by its position in [`CATALOGUE`].
    Select(usize),
    /// Move the selection within the search results (arrow keys, Home, End).
    Move(Step),
    SetInstance(u32),
    SetValue(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Next,
    Previous,
    First,
    Last,
}

/// One row of the fields table: a named field, or one INTID's slice of a
/// per-interrupt register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRow {
    pub bits: String,
    pub name: String,
    /// `RW`, `RO`, `RAZ`, `RAO` for fields; the register's access for INTID slices.
    pub access: &'static str,
    /// The field's value in the tested value, if one is typed and valid.
    pub value: Option<u64>,
    pub meaning: String,
}

impl AppState {
    /// Apply one message (the reducer).
    pub fn apply(mut self, msg: Msg) -> Self {
        match msg {
            Msg::Search(query) => self.query = query,
            Msg::Select(position) => self.select(position),
            Msg::Move(step) => {
                let matches = self.matches();
                let here = self
                    .selected_position()
                    .and_then(|p| matches.iter().position(|m| *m == p));
                let target = match (step, here) {
                    (_, _) if matches.is_empty() => None,
                    (Step::First, _) | (Step::Next | Step::Previous, None) => matches.first(),
                    (Step::Last, _) => matches.last(),
                    (Step::Next, Some(i)) => matches.get(i + 1).or(matches.last()),
                    (Step::Previous, Some(i)) => matches.get(i.saturating_sub(1)),
                };
                if let Some(&position) = target {
                    self.select(position);
                }
            }
            Msg::SetInstance(n) => {
                if let Some(desc) = self.selected_register() {
                    self.instance = n.min(desc.count().saturating_sub(1));
                }
            }
            Msg::SetValue(value) => self.value = value,
        }
        self
    }

    fn select(&mut self, position: usize) {
        let Some(desc) = CATALOGUE.get(position) else {
            return;
        };
        if self.selected.as_deref() != Some(desc.pattern().as_str()) {
            // Searching by offset picks the instance at that offset.
            self.instance = match offset_query(&self.query) {
                Some(off) if off >= desc.offset && off < desc.end() => {
                    (off - desc.offset) / desc.reg_bytes as u32
                }
                _ => 0,
            };
            self.selected = Some(desc.pattern());
        }
    }

    /// Positions in [`CATALOGUE`] of the families the search matches, in
    /// catalogue order. A query matches a name, an offset inside the family
    /// (`0x104`), a field name or the summary, ignoring case.
    pub fn matches(&self) -> Vec<usize> {
        let query = self.query.trim().to_ascii_lowercase();
        let offset = offset_query(&query);
        CATALOGUE
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                query.is_empty()
                    || r.pattern().to_ascii_lowercase().contains(&query)
                    || offset.is_some_and(|off| off >= r.offset && off < r.end())
                    || r.fields
                        .iter()
                        .any(|f| f.name.to_ascii_lowercase().contains(&query))
                    || r.summary.to_ascii_lowercase().contains(&query)
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Position in [`CATALOGUE`] of the selected family.
    pub fn selected_position(&self) -> Option<usize> {
        let selected = self.selected.as_deref()?;
        CATALOGUE.iter().position(|r| r.pattern() == selected)
    }

    pub fn selected_register(&self) -> Option<&'static RegisterDesc> {
        self.selected_position().map(|p| &CATALOGUE[p])
    }

    /// The selected register instance, e.g. `GICD_ISENABLER1`.
    pub fn selected_instance(&self) -> Option<RegRef> {
        let desc = self.selected_register()?;
        Some(RegRef {
            desc,
            index: self.instance.min(desc.count().saturating_sub(1)),
        })
    }

    /// The tested value: `None` while the box is empty.
    pub fn tested_value(&self) -> Option<Result<u64, ValueError>> {
        let desc = self.selected_register()?;
        if self.value.trim().is_empty() {
            return None;
        }
        Some(parse_register_value(&self.value, desc.reg_bytes as u32 * 8))
    }

    /// The fields of the selected instance, decoded from the tested value
    /// when there is a valid one (by `gicx_core::catalogue::decode`).
    pub fn field_rows(&self) -> Vec<FieldRow> {
        let Some(reg) = self.selected_instance() else {
            return Vec::new();
        };
        let value = self.tested_value().and_then(Result::ok);
        let decoded = decode(&reg, value.unwrap_or(0));
        let named = !reg.desc.fields.is_empty();
        decoded
            .into_iter()
            .enumerate()
            .map(|(i, d)| FieldRow {
                bits: d.bits,
                name: d.name,
                access: if named {
                    field_access(reg.desc.fields[i].kind)
                } else {
                    reg.desc.arch_access.as_str()
                },
                value: value.map(|_| d.value),
                meaning: d.meaning,
            })
            .collect()
    }
}

fn field_access(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Rw => "RW",
        FieldKind::Ro => "RO",
        FieldKind::Rao => "RAO",
        FieldKind::Raz => "RAZ",
    }
}

/// A search that is a hex offset (`0x104`) also finds the family covering it.
fn offset_query(query: &str) -> Option<u32> {
    let query = query.trim();
    if !query.to_ascii_lowercase().starts_with("0x") {
        return None;
    }
    parse_value(query).ok().and_then(|v| u32::try_from(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(pattern: &str) -> usize {
        CATALOGUE
            .iter()
            .position(|r| r.pattern() == pattern)
            .unwrap()
    }

    fn names(state: &AppState) -> Vec<String> {
        state
            .matches()
            .into_iter()
            .map(|p| CATALOGUE[p].pattern())
            .collect()
    }

    fn searched(query: &str) -> AppState {
        AppState::default().apply(Msg::Search(query.into()))
    }

    #[test]
    fn empty_search_lists_the_whole_catalogue() {
        assert_eq!(AppState::default().matches().len(), CATALOGUE.len());
    }

    #[test]
    fn search_matches_name_offset_field_and_summary() {
        assert_eq!(names(&searched("typer2")), ["GICD_TYPER2"]);
        let by_offset = names(&searched("0x104"));
        assert!(
            by_offset.contains(&"GICD_ISENABLER<n>".to_string()),
            "{by_offset:?}"
        );
        assert!(names(&searched("nASSGIcap")).contains(&"GICD_TYPER2".to_string()));
        assert!(names(&searched("migration debate")).contains(&"GICD_TYPER2".to_string()));
        assert!(searched("no such register").matches().is_empty());
    }

    #[test]
    fn selecting_from_an_offset_search_picks_that_instance() {
        let s = searched("0x104").apply(Msg::Select(position("GICD_ISENABLER<n>")));
        assert_eq!(s.selected_instance().unwrap().name(), "GICD_ISENABLER1");
        let s = searched("enable").apply(Msg::Select(position("GICD_ISENABLER<n>")));
        assert_eq!(s.selected_instance().unwrap().name(), "GICD_ISENABLER0");
    }

    #[test]
    fn keys_move_within_the_results() {
        let s = searched("GICD_TYPER");
        assert_eq!(names(&s), ["GICD_TYPER", "GICD_TYPER2"]);
        let s = s.apply(Msg::Move(Step::Next));
        assert_eq!(s.selected.as_deref(), Some("GICD_TYPER"));
        let s = s.apply(Msg::Move(Step::Next)).apply(Msg::Move(Step::Next));
        assert_eq!(
            s.selected.as_deref(),
            Some("GICD_TYPER2"),
            "stops at the end"
        );
        let s = s.apply(Msg::Move(Step::First));
        assert_eq!(s.selected.as_deref(), Some("GICD_TYPER"));
        let s = s.apply(Msg::Move(Step::Previous));
        assert_eq!(
            s.selected.as_deref(),
            Some("GICD_TYPER"),
            "stops at the start"
        );
        let s = s.apply(Msg::Move(Step::Last));
        assert_eq!(s.selected.as_deref(), Some("GICD_TYPER2"));
        assert_eq!(searched("zzz").apply(Msg::Move(Step::Next)).selected, None);
    }

    #[test]
    fn instance_is_clamped_to_the_family() {
        let s = AppState::default()
            .apply(Msg::Select(position("GICD_ISENABLER<n>")))
            .apply(Msg::SetInstance(1000));
        assert_eq!(s.selected_instance().unwrap().name(), "GICD_ISENABLER31");
    }

    #[test]
    fn value_decodes_the_fields() {
        let s = AppState::default().apply(Msg::Select(position("GICD_TYPER2")));
        let rows = s.field_rows();
        assert!(rows.iter().all(|r| r.value.is_none()), "no value typed yet");
        let s = s.apply(Msg::SetValue("0x100".into()));
        let rows = s.field_rows();
        let cap = rows.iter().find(|r| r.name == "nASSGIcap").unwrap();
        assert_eq!(
            (cap.bits.as_str(), cap.access, cap.value),
            ("[8]", "RO", Some(1))
        );
        assert_eq!(
            rows.iter().find(|r| r.name == "VID").unwrap().value,
            Some(0)
        );
    }

    #[test]
    fn per_interrupt_registers_decode_by_intid() {
        let s = searched("0x104")
            .apply(Msg::Select(position("GICD_ISENABLER<n>")))
            .apply(Msg::SetValue("0b101".into()));
        let rows = s.field_rows();
        assert_eq!(rows.len(), 32);
        assert_eq!(
            (rows[0].name.as_str(), rows[0].value),
            ("INTID 32", Some(1))
        );
        assert_eq!((rows[1].access, rows[1].value), ("RW", Some(0)));
    }

    #[test]
    fn bad_values_are_reported_not_decoded() {
        let s = AppState::default()
            .apply(Msg::Select(position("GICD_TYPER2")))
            .apply(Msg::SetValue("0x1_0000_0000".into()));
        assert_eq!(
            s.tested_value(),
            Some(Err(ValueError::TooWide {
                value: 1 << 32,
                bits: 32
            }))
        );
        assert!(s.field_rows().iter().all(|r| r.value.is_none()));
    }
}
