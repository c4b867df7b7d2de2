//! The Registers view (and the register list the Poke view shares): the search,
//! the selected register instance and the value tester; register search
//! (`matches`: names first, then words in texts; `near_miss`) and the human
//! register and rule links (`#reg/NAME`, `#rule/ID`).

use gicx_core::catalogue::{decode, lookup, FieldKind, RegRef, RegisterDesc, Reset, CATALOGUE};

use super::clip;
use super::work::{PokeResult, Work};
use crate::value::{parse_register_value, parse_value, ValueError};

/// A move in the register list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Next,
    Previous,
    First,
    Last,
}

/// What a person does in the register list and the value tester.
#[derive(Clone, Debug)]
pub enum RegistersMsg {
    Search(String),
    /// Select a family by its position in [`CATALOGUE`].
    Select(usize),
    /// Move the selection within the search results (arrow keys, Home, End).
    Move(Step),
    SetInstance(u32),
    /// The value tester's text.
    SetValue(String),
    ToggleBit(u8),
    /// Put a value (e.g. the register's current one) into the tester.
    UseValue(u64),
}

/// The register list's and the tester's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistersState {
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

impl RegistersState {
    /// Apply one message; `work` is read for the tester's starting value (the
    /// register's value now, as the guest of the selected vCPU reads it).
    pub fn apply(&mut self, msg: RegistersMsg, work: &Work) {
        match msg {
            RegistersMsg::Search(query) => self.query = clip(query),
            RegistersMsg::Select(position) => self.select(position, work),
            RegistersMsg::Move(step) => self.move_selection(step, work),
            RegistersMsg::SetInstance(n) => {
                if let Some(desc) = self.selected_register() {
                    self.instance = n.min(desc.count().saturating_sub(1));
                }
            }
            RegistersMsg::SetValue(value) => self.value = clip(value),
            RegistersMsg::ToggleBit(bit) => {
                if let Some(desc) = self.selected_register() {
                    let bits = desc.reg_bytes as u32 * 8;
                    if (bit as u32) < bits {
                        let v = parse_register_value(&self.value, bits).unwrap_or(0);
                        self.value = format!("{:#x}", v ^ (1u64 << bit));
                    }
                }
            }
            RegistersMsg::UseValue(v) => self.value = format!("{v:#x}"),
        }
    }

    /// Select the family at `position`; searching by offset or instance name
    /// picks that instance.
    pub fn select(&mut self, position: usize, work: &Work) {
        let Some(desc) = CATALOGUE.get(position) else {
            return;
        };
        if self.selected.as_deref() != Some(desc.pattern().as_str()) {
            self.instance = match (offset_query(&self.query), instance_query(self.query.trim())) {
                (Some(off), _) if off >= desc.offset && off < desc.end() => {
                    (off - desc.offset) / desc.reg_bytes as u32
                }
                (_, Some(r)) if std::ptr::eq(r.desc, desc) => r.index,
                _ => 0,
            };
            self.selected = Some(desc.pattern());
            self.refresh_value(work);
        }
    }

    /// Select an instance a link names (`#reg/GICD_IROUTER287`).
    pub fn open(&mut self, position: usize, index: u32, work: &Work) {
        self.selected = None;
        self.select(position, work);
        self.instance = index;
        self.refresh_value(work);
    }

    /// The tester starts at the selected register's value now, as the guest reads it.
    fn refresh_value(&mut self, work: &Work) {
        self.value = self
            .selected_instance()
            .and_then(|r| gicx_core::readback::read_back(work.session.vgic(), &r, work.vcpu).guest)
            .map(|v| format!("{v:#x}"))
            .unwrap_or_default();
    }

    fn move_selection(&mut self, step: Step, work: &Work) {
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
            self.select(position, work);
        }
    }

    /// Positions in [`CATALOGUE`] of the families the search matches.
    pub fn matches(&self) -> Vec<usize> {
        matches(&self.query)
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
        tested_value(self.selected_register()?, &self.value)
    }

    /// The fields of the selected instance, decoded from the tested value.
    pub fn field_rows(&self) -> Vec<FieldRow> {
        self.selected_instance()
            .map(|reg| field_rows(&reg, &self.value))
            .unwrap_or_default()
    }
}

/// A register's human link, `#reg/GICD_TYPER2` (or `#reg/GICD_IROUTER287`): the
/// catalogue position and instance it names, or why it names none. `None` when
/// the fragment is not a register link.
pub fn register_route(fragment: &str) -> Option<Result<(usize, u32), String>> {
    let name = fragment.trim_start_matches('#').strip_prefix("reg/")?;
    Some(
        lookup(name)
            .map(|r| {
                let p = CATALOGUE
                    .iter()
                    .position(|d| std::ptr::eq(d, r.desc))
                    .unwrap_or(0);
                (p, r.index)
            })
            .map_err(|e| e.to_string()),
    )
}

/// A rule's link, `#rule/ID`: the rule's id, or why it names none; `None` when
/// the fragment is not a rule link.
pub fn rule_route(fragment: &str) -> Option<Result<&'static str, String>> {
    let id = fragment.trim_start_matches('#').strip_prefix("rule/")?;
    Some(
        gicx_core::rules::by_id(id)
            .map(|r| r.id)
            .ok_or_else(|| format!("there is no rule {id:?} (the Rules view lists every rule)")),
    )
}

/// The human link of a register instance (see [`register_route`]).
pub fn register_link(reg: &RegRef) -> String {
    format!("#reg/{}", reg.name())
}

/// The register the landing's "look up a register" opens.
pub const LANDING_REGISTER: &str = "GICD_TYPER2";

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
    /// The field's value at reset, where the reset value is a constant.
    pub reset: Option<u64>,
    pub meaning: String,
}

/// Catalogue positions of the registers a poke changed, sorted.
pub fn changed_positions(last: Option<&PokeResult>) -> Vec<usize> {
    let Some(PokeResult::Done(done)) = last else {
        return Vec::new();
    };
    // Changes come in catalogue order per frame (distributor, then each
    // redistributor): merge without a sort.
    let mut p: Vec<usize> = Vec::new();
    for c in &done.changes {
        if let Err(i) = p.binary_search(&c.position) {
            p.insert(i, c.position);
        }
    }
    p
}

/// The value typed into the tester for a register of `desc`'s size: `None`
/// while the box is empty.
pub fn tested_value(desc: &RegisterDesc, text: &str) -> Option<Result<u64, ValueError>> {
    if text.trim().is_empty() {
        return None;
    }
    Some(parse_register_value(text, desc.reg_bytes as u32 * 8))
}

/// The fields of instance `reg`, decoded from the typed value when it is valid
/// (by `gicx_core::catalogue::decode`).
pub fn field_rows(reg: &RegRef, text: &str) -> Vec<FieldRow> {
    let value = tested_value(reg.desc, text).and_then(Result::ok);
    let decoded = decode(reg, value.unwrap_or(0));
    let reset = match reg.desc.reset {
        Reset::Value(v) => Some(decode(reg, v)),
        Reset::Computed(_) => None,
    };
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
            reset: reset.as_ref().map(|r| r[i].value),
            meaning: d.meaning,
        })
        .collect()
}

/// Positions in [`CATALOGUE`] of the families a search matches, in catalogue
/// order. A query matches a name, an offset inside the family (`0x104`), a
/// field name or the summary, ignoring case.
pub fn matches(query: &str) -> Vec<usize> {
    let query = query.trim().to_ascii_lowercase();
    let offset = offset_query(&query);
    // An instance name (GICD_IROUTER287, IROUTER287, GICR_IPRIORITYR3) finds its family.
    let instance = instance_query(&query).map(|r| r.desc as *const RegisterDesc);
    let words: Vec<&str> = query.split_whitespace().collect();
    let mut by_name = Vec::new();
    let mut by_text = Vec::new();
    for (i, r) in CATALOGUE.iter().enumerate() {
        let name = r.pattern().to_ascii_lowercase();
        if query.is_empty()
            || name.contains(&query)
            || instance == Some(r as *const RegisterDesc)
            || offset.is_some_and(|off| off >= r.offset && off < r.end())
        {
            by_name.push(i);
            continue;
        }
        // Every word somewhere: the name, a field's name, the summary, or (for a
        // word that is not a register name, e.g. "vSGI") a field's meaning.
        let summary = r.summary.to_ascii_lowercase();
        let found = words.iter().all(|w| {
            name.contains(w)
                || summary.contains(w)
                || r.fields.iter().any(|f| {
                    f.name.to_ascii_lowercase().contains(w)
                        || (!w.contains('_') && f.meaning.to_ascii_lowercase().contains(w))
                })
        });
        if found {
            by_text.push(i);
        }
    }
    // Names first, then the registers whose text matches.
    by_name.extend(by_text);
    by_name
}

/// The register instance a query names, with or without its frame prefix.
fn instance_query(query: &str) -> Option<RegRef> {
    if query.is_empty() || query.contains(char::is_whitespace) {
        return None;
    }
    ["", "GICD_", "GICR_"]
        .iter()
        .find_map(|prefix| lookup(&format!("{prefix}{query}")).ok())
}

/// A register name close to a query that finds nothing ("GICD_CTRL" → GICD_CTLR).
pub fn near_miss(query: &str) -> Option<String> {
    let q = query.trim();
    if q.is_empty() || q.contains(char::is_whitespace) || offset_query(q).is_some() {
        return None;
    }
    gicx_core::catalogue::suggest(q)
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

/// The view's messages through the whole reducer ([`crate::state::AppState::apply`]).
#[cfg(test)]
mod reducer_tests {
    use crate::state::support::*;

    #[test]
    fn empty_search_lists_the_whole_catalogue() {
        assert_eq!(AppState::default().matches().len(), CATALOGUE.len());
    }

    #[test]
    fn search_matches_name_offset_field_and_summary() {
        assert_eq!(names(&searched("typer2"))[0], "GICD_TYPER2", "names first");
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
        let s = searched("0x104").apply(Msg::Registers(RegistersMsg::Select(position(
            "GICD_ISENABLER<n>",
        ))));
        assert_eq!(s.selected_instance().unwrap().name(), "GICD_ISENABLER1");
        let s = searched("enable").apply(Msg::Registers(RegistersMsg::Select(position(
            "GICD_ISENABLER<n>",
        ))));
        assert_eq!(s.selected_instance().unwrap().name(), "GICD_ISENABLER0");
    }

    #[test]
    fn keys_move_within_the_results() {
        let s = searched("GICD_TYPER");
        assert_eq!(names(&s)[..2], ["GICD_TYPER", "GICD_TYPER2"]);
        let s = s.apply(Msg::Registers(RegistersMsg::Move(Step::Next)));
        assert_eq!(s.registers.selected.as_deref(), Some("GICD_TYPER"));
        let s = s
            .apply(Msg::Registers(RegistersMsg::Move(Step::Next)))
            .apply(Msg::Registers(RegistersMsg::Move(Step::Next)));
        assert_eq!(
            s.registers.selected.as_deref(),
            Some("GICD_TYPER2"),
            "stops at the end"
        );
        let s = s.apply(Msg::Registers(RegistersMsg::Move(Step::First)));
        assert_eq!(s.registers.selected.as_deref(), Some("GICD_TYPER"));
        let s = s.apply(Msg::Registers(RegistersMsg::Move(Step::Previous)));
        assert_eq!(
            s.registers.selected.as_deref(),
            Some("GICD_TYPER"),
            "stops at the start"
        );
        let s = s.apply(Msg::Registers(RegistersMsg::Move(Step::Last)));
        assert_eq!(s.registers.selected.as_deref(), Some("GICD_TYPER2"));
        assert_eq!(
            searched("zzz")
                .apply(Msg::Registers(RegistersMsg::Move(Step::Next)))
                .registers
                .selected,
            None
        );
    }

    #[test]
    fn instance_and_vcpu_are_clamped() {
        let s = selected("GICD_ISENABLER<n>")
            .apply(Msg::Registers(RegistersMsg::SetInstance(1000)))
            .apply(Msg::SetVcpu(99));
        assert_eq!(s.selected_instance().unwrap().name(), "GICD_ISENABLER31");
        assert_eq!(s.work.vcpu, 3, "the default VM has 4 vCPUs");
    }

    #[test]
    fn value_decodes_the_fields() {
        // The tester starts at the register's current value (v4.1@6.17: nASSGIcap).
        let s = selected("GICD_TYPER2");
        assert_eq!(s.registers.value, "0x100");
        let s = s.apply(Msg::Registers(RegistersMsg::SetValue(String::new())));
        let rows = s.field_rows();
        assert!(rows.iter().all(|r| r.value.is_none()), "no value to decode");
        let s = s.apply(Msg::Registers(RegistersMsg::SetValue("0x100".into())));
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
    fn bits_toggle_and_values_load_into_the_tester() {
        let s = selected("GICD_TYPER2")
            .apply(Msg::Registers(RegistersMsg::SetValue(String::new())))
            .apply(Msg::Registers(RegistersMsg::ToggleBit(8)));
        assert_eq!(s.registers.value, "0x100");
        let s = s
            .apply(Msg::Registers(RegistersMsg::ToggleBit(0)))
            .apply(Msg::Registers(RegistersMsg::ToggleBit(8)));
        assert_eq!(s.registers.value, "0x1");
        let s = s.apply(Msg::Registers(RegistersMsg::ToggleBit(32)));
        assert_eq!(s.registers.value, "0x1", "a 32-bit register has no bit 32");
        let s = s
            .apply(Msg::Registers(RegistersMsg::SetValue("junk".into())))
            .apply(Msg::Registers(RegistersMsg::ToggleBit(1)));
        assert_eq!(s.registers.value, "0x2", "an invalid value toggles from 0");
        let s = selected("GICD_IROUTER<n>");
        assert_eq!(s.registers.value, "0x0", "the current value");
        let s = s.apply(Msg::Registers(RegistersMsg::ToggleBit(63)));
        assert_eq!(s.registers.value, "0x8000000000000000");
        assert_eq!(
            s.apply(Msg::Registers(RegistersMsg::UseValue(255)))
                .registers
                .value,
            "0xff"
        );
    }

    #[test]
    fn per_interrupt_registers_decode_by_intid() {
        let s = searched("0x104")
            .apply(Msg::Registers(RegistersMsg::Select(position(
                "GICD_ISENABLER<n>",
            ))))
            .apply(Msg::Registers(RegistersMsg::SetValue("0b101".into())));
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
        let s = selected("GICD_TYPER2").apply(Msg::Registers(RegistersMsg::SetValue(
            "0x1_0000_0000".into(),
        )));
        assert_eq!(
            s.tested_value(),
            Some(Err(ValueError::TooWide {
                value: 1 << 32,
                bits: 32
            }))
        );
        assert!(s.field_rows().iter().all(|r| r.value.is_none()));
    }

    #[test]
    fn search_finds_words_instances_and_descriptions_and_suggests_near_misses() {
        let names = |q: &str| names(&searched(q));
        assert!(names("IROUTER287").contains(&"GICD_IROUTER<n>".to_string()));
        let s = searched("GICD_IROUTER287").apply(Msg::Registers(RegistersMsg::Select(position(
            "GICD_IROUTER<n>",
        ))));
        assert_eq!(s.selected_instance().unwrap().name(), "GICD_IROUTER287");
        assert!(
            names("vsgi").contains(&"GICD_CTLR".to_string()),
            "nASSGIreq's meaning"
        );
        let two = names("group enable");
        assert!(!two.is_empty() && two.len() < names("group").len());
        assert!(names("GICD_CTRL").is_empty());
        assert_eq!(near_miss("GICD_CTRL").as_deref(), Some("GICD_CTLR"));
        assert_eq!(near_miss("0x104"), None);
    }

    #[test]
    fn register_links_name_a_register_instance_or_suggest_one() {
        let s = AppState::default().apply(Msg::OpenRegisterLink("#reg/GICD_IROUTER287".into()));
        assert_eq!(s.selected_instance().unwrap().name(), "GICD_IROUTER287");
        assert_eq!(s.view, View::Registers);
        assert_eq!(
            register_link(&s.selected_instance().unwrap()),
            "#reg/GICD_IROUTER287"
        );
        let s = AppState::default().apply(Msg::OpenRegisterLink("#reg/GICD_CTRL".into()));
        assert!(s.registers.selected.is_none());
        assert!(
            s.work.banners.list()[0]
                .detail
                .contains("did you mean GICD_CTLR?"),
            "{:?}",
            s.work.banners.list()
        );
    }
}
