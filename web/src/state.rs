//! The explorer's state and the messages that change it: plain Rust, no DOM,
//! so every behaviour of the views is unit-tested natively.
//!
//! The state is a scenario being explored ([`Session`]: host, VM, the steps
//! done and the undo cursor) plus what each view shows (the selected register
//! and vCPU, the tester value, the Poke form…). [`AppState::apply`] is the one
//! reducer; [`AppState::permalink`] and [`AppState::restore`] turn the state
//! into a link and back (`gicx_core::permalink`).

use std::rc::Rc;

use gicx_core::audit::audit_hosts;
use gicx_core::catalogue::{decode, lookup, FieldKind, RegRef, RegisterDesc, Reset, CATALOGUE};
use gicx_core::guest::GuestProfile;
use gicx_core::host::{GicHw, Host};
use gicx_core::migrate::{migrate, source_scenario, validate_step, MigrationSpec};
use gicx_core::permalink::{Embed, Permalink, MAX_TEXT_CHARS};
use gicx_core::scenario::{parse, validate, LifecycleStep, Scenario, Step as ScenarioStep};
use gicx_core::vgic::{Lifecycle as VmLifecycle, RestorePolicy, VmConfig};
use gicx_core::vmm::{ItsSupport, RECIPES};

use crate::explore::{
    AuditRun, DeliveryForm, LessonState, MatrixForm, MatrixLink, MigrateBlock, MigrateFix,
    MigrateForm, AUDIT_SLICE_MS, LESSONS,
};
use crate::host_form::{resolve_kernel, HostForm, PRESETS};
use crate::poke::{Access, Actor, PokeForm};
use crate::session::{Done, Session};
use crate::value::{parse_register_value, parse_value, ValueError};
use crate::view::View;

/// The colour theme: the system's preference, or chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

impl Theme {
    /// The toggle's order.
    pub fn next(self) -> Theme {
        match self {
            Theme::System => Theme::Light,
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::System,
        }
    }
    pub fn id(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }
    pub fn from_id(id: &str) -> Theme {
        match id {
            "light" => Theme::Light,
            "dark" => Theme::Dark,
            _ => Theme::System,
        }
    }
}

/// What the header's share area shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Share {
    #[default]
    Closed,
    /// The link in a text field, selected: the clipboard was not available.
    Link,
    /// The `<iframe>` code for the current view.
    Embed(Embed),
}

/// A problem shown at the top of the page (role=alert) until dismissed: a
/// damaged link or saved state, a log that cannot be replayed…
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Banner {
    pub id: u32,
    pub title: String,
    pub detail: String,
}

/// The last poke (or init/run) and what it did.
#[derive(Clone, Debug)]
pub enum PokeResult {
    Done(Done),
    /// The access could not be made at all (not a KVM errno: e.g. the guest
    /// before KVM_RUN, a value wider than the access).
    Refused {
        what: String,
        reason: String,
    },
}

/// Results are compared by identity: each poke makes a new one.
impl PartialEq for PokeResult {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

/// The session a lesson or a prepared VM replaced, kept until the next
/// replacement so that opening one never loses work for good.
#[derive(Clone, Debug)]
pub struct Replaced {
    /// What replaced it ("the lesson Your first SGI").
    pub by: String,
    pub session: Session,
    pub lesson: Option<LessonState>,
}

/// The landing's three ways in, one per kind of user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Journey {
    /// Learn: the lesson "Your first SGI".
    Learn,
    /// Look up a register: GICD_TYPER2 selected, the search box explained.
    LookUp,
    /// Check a migration: the VM a VMM and a Linux guest would leave, migrated.
    CheckMigration,
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

/// Lifecycle ioctls the Poke view offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// `KVM_DEV_ARM_VGIC_CTRL_INIT`.
    Init,
    /// The first `KVM_RUN`.
    Run,
}

/// Everything a person can do.
#[derive(Clone, Debug)]
pub enum Msg {
    // ---- navigation
    Show(View),
    /// One of the landing's three ways in.
    Begin(Journey),
    /// Select a register (catalogue position) and show it in the Registers view.
    ShowRegister(usize),
    /// A register's human link (`#reg/GICD_TYPER2`), typed or followed.
    OpenRegisterLink(String),
    /// A rule's link (`#rule/lifecycle.vm_dead`): the Rules view, that rule marked.
    OpenRuleLink(String),
    // ---- the catalogue (Registers and Poke)
    Search(String),
    /// Select a family by its position in [`CATALOGUE`].
    Select(usize),
    /// Move the selection within the search results (arrow keys, Home, End).
    Move(Step),
    SetInstance(u32),
    SetVcpu(u32),
    // ---- the value tester
    SetValue(String),
    ToggleBit(u8),
    /// Put a value (e.g. the register's current one) into the tester.
    UseValue(u64),
    // ---- Poke
    SetActor(Actor),
    SetWidth(u8),
    SetAt(u32),
    SetPokeValue(String),
    Poke(Access),
    Lifecycle(Lifecycle),
    // ---- Log
    Undo,
    Redo,
    /// Move the undo cursor: `n` steps applied.
    Seek(usize),
    /// A scenario file's text, read from `file`.
    Import {
        file: String,
        text: String,
    },
    ImportFailed(String),
    SetExportExpectations(bool),
    /// An export was offered as a download (the message says what).
    Exported(String),
    // ---- sharing
    ShowShare(Share),
    /// A copy to the clipboard finished; on failure the `fallback` share area
    /// shows the text selected, to copy by hand.
    Copied {
        what: String,
        ok: bool,
        fallback: Share,
    },
    Status(String),
    // ---- Host and VM
    SetGic(GicHw),
    SetCpuifVsgi(bool),
    SetV4Enable(bool),
    SetKernel(String),
    SetVcpus(String),
    SetNrIrqs(u32),
    SetIts(bool),
    Preset(usize),
    // ---- Migrate
    SetMigrateTo(String),
    SetMigrateVmm(usize),
    SetMigratePolicy(RestorePolicy),
    /// Migrate the session's VM with the form: a `migrate` step, replacing the
    /// last applied step if that is a migration (the same source again); or, if
    /// the VMM cannot attempt it, why and the fixes ([`AppState::migrate_block`]).
    Migrate,
    /// Apply a fix, then migrate.
    MigrateFix(MigrateFix),
    /// The open Matrix cell as a session: its source VM (the VMM's, booted by the
    /// Matrix's guest profile) migrated in the Migrate view with the cell's policy.
    OpenCellInMigrate,
    /// Go back to the session a lesson or a prepared VM replaced.
    BringBack,
    // ---- Matrix
    SetMatrixVmm(usize),
    SetMatrixGuest(GuestProfile),
    /// Which of the two tables, and its policy.
    SetMatrixPolicy(usize, RestorePolicy),
    /// Set a cause aside (a rule id of `explore::SET_ASIDE`), or none.
    SetMatrixAside(Option<&'static str>),
    /// Open a cell: table, source and destination host positions.
    OpenCell(usize, usize, usize),
    CloseCell,
    /// Show "running…" (the audit itself runs on the next message).
    /// Compute the Matrix view's tables if they are out of date (see
    /// [`AppState::matrix_pending`]).
    ComputeMatrix,
    /// "Run audit": start the job; App schedules its slices.
    AuditStart,
    /// One slice of the running audit (a no-op if none runs).
    AuditSlice,
    /// "Stop": drop the running audit.
    AuditStop,
    // ---- Delivery path
    SetSgiFrom(u32),
    SetSgiIntid(String),
    SetSgiTargets(String),
    SendSgi,
    SetSpiIntid(String),
    SetSpiLevel(bool),
    RaiseSpi,
    // ---- Lessons
    OpenLesson(usize),
    /// Move the lesson's cursor by this many steps.
    LessonStep(isize),
    SetLessonPolicy(Option<RestorePolicy>),
    SetLessonKernel(Option<String>),
    // ---- the whole state
    /// Open a link's state (the URL fragment changed), in its mode: an
    /// `#embed/…` link switches to embed mode.
    Restore(Box<Permalink>, Option<Embed>),
    Problem {
        title: String,
        detail: String,
    },
    Dismiss(u32),
    SetTheme(Theme),
    /// `#debug/panic`: a deliberate bug, to check the bug banner.
    DebugPanic,
}

/// A move in the register list.
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
    /// The field's value at reset, where the reset value is a constant.
    pub reset: Option<u64>,
    pub meaning: String,
}

/// The parts of the state a link carries, cheap to compare: the URL and the
/// saved state are rewritten only when this changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkKey {
    revision: u64,
    view: View,
    selected: Option<String>,
    instance: u32,
    vcpu: u32,
    value: String,
    query: String,
    poke: PokeForm,
    lesson: Option<LessonState>,
    matrix: MatrixLink,
    migrate: MigrateForm,
}

/// The explorer's whole state.
#[derive(Clone, Debug)]
pub struct AppState {
    pub session: Session,
    pub view: View,
    /// The search box text.
    pub query: String,
    /// The selected family, by architectural pattern (`GICD_TYPER2`,
    /// `GICD_ISENABLER<n>`): stable across catalogue edits, unlike an index.
    pub selected: Option<String>,
    /// The instance of an indexed family (`n` in `GICD_ISENABLER<n>`).
    pub instance: u32,
    /// The vCPU whose redistributor is shown and who accesses the distributor.
    pub vcpu: u32,
    /// The value tester text.
    pub value: String,
    pub poke: PokeForm,
    /// What the last poke did; cleared by undo, redo and host changes.
    pub last: Option<Rc<PokeResult>>,
    pub host_form: HostForm,
    pub banners: Vec<Banner>,
    next_banner: u32,
    /// Shown embedded in another page, and how.
    pub embed: Option<Embed>,
    /// Why the last import failed (with its JSON path, line and column).
    pub import_error: Option<String>,
    /// What the last import or export did.
    pub import_note: Option<String>,
    /// The header's share area.
    pub share: Share,
    /// A passing message for the header's status line ("Link copied…").
    pub status: Option<String>,
    /// Exports record each step's result as expectations.
    pub export_expectations: bool,
    pub theme: Theme,
    pub migrate_form: MigrateForm,
    pub matrix: MatrixForm,
    pub delivery: DeliveryForm,
    /// Why the last migrate, SGI or SPI step could not be made.
    pub form_error: Option<String>,
    /// Why the last Migrate could not be attempted, with one-click fixes.
    pub migrate_block: Option<MigrateBlock>,
    pub lesson: Option<LessonState>,
    /// The session the last lesson or prepared VM replaced.
    pub replaced: Option<Box<Replaced>>,
    /// The rule the Rules view marks (`views.rules` in links).
    pub rule: Option<String>,
}

impl Default for AppState {
    fn default() -> Self {
        AppState::with_session(Session::default())
    }
}

impl AppState {
    fn with_session(session: Session) -> AppState {
        AppState {
            host_form: HostForm::showing(session.host(), session.vm()),
            session,
            view: View::default(),
            query: String::new(),
            selected: None,
            instance: 0,
            vcpu: 0,
            value: String::new(),
            poke: PokeForm::default(),
            last: None,
            banners: Vec::new(),
            next_banner: 0,
            embed: None,
            import_error: None,
            import_note: None,
            share: Share::Closed,
            status: None,
            export_expectations: false,
            theme: Theme::System,
            migrate_form: MigrateForm::default(),
            matrix: MatrixForm::default(),
            delivery: DeliveryForm::default(),
            form_error: None,
            migrate_block: None,
            lesson: None,
            replaced: None,
            rule: None,
        }
    }

    /// Whether nothing may change (a read-only embed).
    pub fn read_only(&self) -> bool {
        self.embed == Some(Embed::ReadOnly)
    }

    /// Apply one message (the reducer).
    pub fn apply(mut self, msg: Msg) -> Self {
        if self.read_only()
            && !matches!(
                msg,
                Msg::Dismiss(_) | Msg::Problem { .. } | Msg::ComputeMatrix | Msg::Restore(..)
            )
        {
            return self;
        }
        match msg {
            Msg::Show(view) => self.view = view,
            Msg::Begin(journey) => self.begin(journey),
            Msg::ShowRegister(position) => {
                self.select(position);
                self.view = View::Registers;
            }
            Msg::OpenRuleLink(fragment) => match rule_route(&fragment) {
                Some(Ok(id)) => {
                    self.rule = Some(id.to_string());
                    self.view = View::Rules;
                }
                Some(Err(e)) => self.problem("This rule link could not be opened", e),
                None => {}
            },
            Msg::OpenRegisterLink(fragment) => match register_route(&fragment) {
                Some(Ok((position, index))) => {
                    self.selected = None;
                    self.instance = index;
                    self.select(position);
                    self.instance = index;
                    self.select_refresh_value();
                    self.view = View::Registers;
                }
                Some(Err(e)) => self.problem(
                    "This register link could not be opened",
                    format!("{e}. You are still seeing your last work."),
                ),
                None => {}
            },
            Msg::SetMigrateTo(t) => {
                self.migrate_form.to = clip(t.split_whitespace().collect());
                if self.migrate_form.host().is_ok() {
                    self.rerun_migration();
                }
            }
            Msg::SetMigrateVmm(i) => {
                self.migrate_form.vmm = i.min(RECIPES.len() - 1);
                self.rerun_migration();
            }
            Msg::SetMigratePolicy(p) => {
                self.migrate_form.policy = p;
                self.rerun_migration();
            }
            Msg::Migrate => self.migrate(),
            Msg::MigrateFix(fix) => self.migrate_fix(fix),
            Msg::OpenCellInMigrate => self.open_cell_in_migrate(),
            Msg::BringBack => {
                if let Some(r) = self.replaced.take() {
                    let Replaced {
                        session, lesson, ..
                    } = *r;
                    self.session = session;
                    self.lesson = lesson;
                    self.after_session_change();
                }
            }
            Msg::SetMatrixVmm(i) => {
                self.matrix.vmm = i.min(RECIPES.len() - 1);
                self.invalidate_matrix();
            }
            Msg::SetMatrixGuest(g) => {
                self.matrix.guest = g;
                self.invalidate_matrix();
            }
            Msg::SetMatrixPolicy(t, p) => {
                self.matrix.policies[t.min(1)] = p;
                self.invalidate_matrix();
            }
            Msg::SetMatrixAside(rule) => {
                self.matrix.aside = rule.filter(|r| crate::explore::SET_ASIDE.contains(r))
            }
            Msg::ComputeMatrix => self.compute_matrix(),
            Msg::OpenCell(t, from, to) => self.open_cell(t.min(1), from, to),
            Msg::CloseCell => {
                self.matrix.cell = None;
                self.matrix.detail = None;
            }
            Msg::AuditStart => self.matrix.audit = AuditRun::start(&self.matrix.audit_options),
            Msg::AuditSlice => {
                self.matrix.audit = std::mem::take(&mut self.matrix.audit).slice(AUDIT_SLICE_MS)
            }
            Msg::AuditStop => {
                if self.matrix.audit.running_at().is_some() {
                    self.matrix.audit = AuditRun::Idle;
                }
            }
            Msg::SetSgiFrom(v) => self.delivery.from = v.min(self.session.vm().vcpus - 1),
            Msg::SetSgiIntid(t) => self.delivery.intid = clip(t),
            Msg::SetSgiTargets(t) => self.delivery.targets = clip(t),
            Msg::SendSgi => {
                let step = self.delivery.sgi(self.session.vm().vcpus);
                self.push_form(step, "sgi");
            }
            Msg::SetSpiIntid(t) => self.delivery.spi = clip(t),
            Msg::SetSpiLevel(l) => self.delivery.level = l,
            Msg::RaiseSpi => {
                let step = self.delivery.spi();
                self.push_form(step, "irq_line");
            }
            Msg::OpenLesson(i) => self.open_lesson(i),
            Msg::LessonStep(d) => {
                let n = self.session.cursor().saturating_add_signed(d);
                self.moved(|s| s.seek(n));
            }
            Msg::SetLessonPolicy(p) => {
                if let Some(l) = &mut self.lesson {
                    l.policy = p;
                    self.load_lesson(self.session.cursor());
                }
            }
            Msg::SetLessonKernel(k) => {
                if let Some(l) = &mut self.lesson {
                    l.kernel = k;
                    self.load_lesson(self.session.cursor());
                }
            }
            Msg::Search(query) => self.query = clip(query),
            Msg::Select(position) => self.select(position),
            Msg::Move(step) => self.move_selection(step),
            Msg::SetInstance(n) => {
                if let Some(desc) = self.selected_register() {
                    self.instance = n.min(desc.count().saturating_sub(1));
                }
            }
            Msg::SetVcpu(v) => self.vcpu = v.min(self.session.vm().vcpus - 1),
            Msg::SetValue(value) => self.value = clip(value),
            Msg::ToggleBit(bit) => {
                if let Some(desc) = self.selected_register() {
                    let bits = desc.reg_bytes as u32 * 8;
                    if (bit as u32) < bits {
                        let v = parse_register_value(&self.value, bits).unwrap_or(0);
                        self.value = format!("{:#x}", v ^ (1u64 << bit));
                    }
                }
            }
            Msg::UseValue(v) => self.value = format!("{v:#x}"),
            Msg::SetActor(a) => self.poke.actor = a,
            Msg::SetWidth(w) => {
                if crate::poke::GUEST_WIDTHS.contains(&w) {
                    self.poke.width = w;
                }
            }
            Msg::SetAt(at) => self.poke.at = at,
            Msg::SetPokeValue(v) => self.poke.value = clip(v),
            Msg::Poke(access) => self.poke_selected(access),
            Msg::Lifecycle(which) => {
                let (step, what) = match which {
                    Lifecycle::Init => (
                        ScenarioStep::Init(LifecycleStep::default()),
                        "KVM_DEV_ARM_VGIC_CTRL_INIT",
                    ),
                    Lifecycle::Run => (ScenarioStep::Run(LifecycleStep::default()), "KVM_RUN"),
                };
                self.push(step, what.to_string());
            }
            Msg::Undo => self.moved(|s| s.undo()),
            Msg::Redo => self.moved(|s| s.redo()),
            Msg::Seek(n) => self.moved(|s| s.seek(n)),
            Msg::Import { file, text } => self.import(&file, &text),
            Msg::ImportFailed(why) => {
                self.import_error = Some(why);
                self.import_note = None;
            }
            Msg::SetExportExpectations(on) => self.export_expectations = on,
            Msg::Exported(note) => {
                self.import_note = Some(note);
                self.import_error = None;
            }
            Msg::ShowShare(share) => self.share = share,
            Msg::Copied { what, ok, fallback } => {
                if ok {
                    self.status = Some(format!("{what} copied to the clipboard"));
                } else {
                    self.status = Some(format!(
                        "Press Ctrl+C to copy the selected {}",
                        what.to_lowercase()
                    ));
                    self.share = fallback;
                }
            }
            Msg::Status(text) => self.status = Some(text),
            Msg::SetGic(gic) => {
                let h = self.session.host();
                self.set_host(Host::new(
                    gic,
                    gic == GicHw::V4_1,
                    h.vgic_v4_enable,
                    h.kernel,
                ));
            }
            Msg::SetCpuifVsgi(on) => {
                let h = self.session.host();
                self.set_host(Host::new(h.gic, on, h.vgic_v4_enable, h.kernel));
            }
            Msg::SetV4Enable(on) => {
                let h = self.session.host();
                self.set_host(Host::new(h.gic, h.cpuif_vsgi, on, h.kernel));
            }
            Msg::SetKernel(text) => {
                self.host_form.kernel = text;
                match resolve_kernel(&self.host_form.kernel) {
                    Ok((kernel, _)) => {
                        let h = self.session.host();
                        self.host_form.kernel_error = None;
                        self.set_host(Host::new(h.gic, h.cpuif_vsgi, h.vgic_v4_enable, kernel));
                    }
                    Err(e) => self.host_form.kernel_error = Some(e),
                }
            }
            Msg::SetVcpus(text) => {
                let vm = self.session.vm();
                let parsed = gicx_core::number::parse_u32(&text)
                    .map_err(|_| format!("{:?} is not a whole number of vCPUs", text.trim()))
                    .and_then(|n| VmConfig::new(n, vm.nr_irqs, vm.its).map_err(|e| e.to_string()));
                self.host_form.vcpus = text;
                match parsed {
                    Ok(vm) => {
                        self.host_form.vcpus_error = None;
                        self.set_vm(vm);
                    }
                    Err(e) => self.host_form.vcpus_error = Some(e),
                }
            }
            Msg::SetNrIrqs(n) => {
                let vm = self.session.vm();
                match VmConfig::new(vm.vcpus, n, vm.its) {
                    Ok(vm) => self.set_vm(vm),
                    Err(e) => self.host_form.vm_error = Some(e.to_string()),
                }
            }
            Msg::SetIts(on) => {
                let vm = self.session.vm();
                self.set_vm(VmConfig { its: on, ..vm });
            }
            Msg::Preset(i) => {
                if let Some(p) = PRESETS.get(i) {
                    self.set_host(Ok(p.host()));
                    self.host_form = HostForm::showing(self.session.host(), self.session.vm());
                }
            }
            Msg::Restore(link, embed) => {
                let (theme, banners, next) = (self.theme, self.banners, self.next_banner);
                self = AppState::restore(*link, embed);
                self.theme = theme;
                // Keep earlier problems on screen; the restore's own come after.
                let own = std::mem::replace(&mut self.banners, banners);
                self.next_banner = next;
                for b in own {
                    self.problem(b.title, b.detail);
                }
            }
            Msg::Problem { title, detail } => self.problem(title, detail),
            Msg::Dismiss(id) => self.banners.retain(|b| b.id != id),
            Msg::SetTheme(t) => self.theme = t,
            Msg::DebugPanic => panic!("deliberate panic requested by #debug/panic"),
        }
        self
    }

    /// Show a problem in a banner.
    pub fn problem(&mut self, title: impl Into<String>, detail: impl Into<String>) {
        let (title, detail) = (title.into(), crate::explain::plain(&detail.into()));
        // The same problem twice (e.g. the same bad link twice) is shown once.
        if self
            .banners
            .iter()
            .any(|b| b.title == title && b.detail == detail)
        {
            return;
        }
        self.next_banner += 1;
        self.banners.push(Banner {
            id: self.next_banner,
            title,
            detail,
        });
    }

    fn select(&mut self, position: usize) {
        let Some(desc) = CATALOGUE.get(position) else {
            return;
        };
        if self.selected.as_deref() != Some(desc.pattern().as_str()) {
            // Searching by offset picks the instance at that offset.
            self.instance = match (offset_query(&self.query), instance_query(self.query.trim())) {
                (Some(off), _) if off >= desc.offset && off < desc.end() => {
                    (off - desc.offset) / desc.reg_bytes as u32
                }
                (_, Some(r)) if std::ptr::eq(r.desc, desc) => r.index,
                _ => 0,
            };
            self.selected = Some(desc.pattern());
            self.select_refresh_value();
        }
    }

    /// The tester starts at the selected register's value now, as the guest reads it.
    fn select_refresh_value(&mut self) {
        self.value = self
            .selected_instance()
            .and_then(|r| gicx_core::readback::read_back(self.session.vgic(), &r, self.vcpu).guest)
            .map(|v| format!("{v:#x}"))
            .unwrap_or_default();
    }

    fn move_selection(&mut self, step: Step) {
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

    /// Whether the landing shows: a fresh start (no step, nothing selected) on
    /// the Registers view, in the full app.
    pub fn landing(&self) -> bool {
        self.embed.is_none()
            && self.view == View::Registers
            && self.selected.is_none()
            && self.session.steps().is_empty()
            && self.replaced.is_none()
    }

    fn open_lesson(&mut self, i: usize) {
        let lesson = LessonState {
            index: i.min(LESSONS.len() - 1),
            ..Default::default()
        };
        self.keep_replaced(format!("the lesson {}", lesson.lesson().title));
        self.lesson = Some(lesson);
        self.load_lesson(0);
    }

    fn begin(&mut self, journey: Journey) {
        match journey {
            Journey::Learn => {
                self.open_lesson(0);
                self.view = View::Lessons;
            }
            Journey::LookUp => {
                if let Some(p) = CATALOGUE
                    .iter()
                    .position(|r| r.pattern() == LANDING_REGISTER)
                {
                    self.select(p);
                }
                self.view = View::Registers;
            }
            Journey::CheckMigration => {
                self.view = View::Migrate;
                self.migrate_fix(crate::explore::MigrateFix::Prepare(GuestProfile::Linux));
            }
        }
    }

    fn poke_selected(&mut self, access: Access) {
        let Some(reg) = self.selected_instance() else {
            self.last = Some(Rc::new(PokeResult::Refused {
                what: "poke".into(),
                reason: "select a register first".into(),
            }));
            return;
        };
        match self.poke.step(&reg, self.vcpu, access) {
            Ok(step) => {
                let what = format!("{} {}", step.op(), reg.name());
                self.push(step, what);
            }
            Err(reason) => {
                self.last = Some(Rc::new(PokeResult::Refused {
                    what: reg.name(),
                    reason,
                }))
            }
        }
    }

    /// Do a new step. A step the scenario format refuses (e.g. an SGI to a vCPU the
    /// VM does not have) is refused here too: the log must stay a scenario that a
    /// link carries.
    fn push(&mut self, step: ScenarioStep, what: String) {
        if let Some((_, reason)) = first_misfit(std::slice::from_ref(&step), self.session.vm()) {
            self.last = Some(Rc::new(PokeResult::Refused {
                what,
                reason: crate::explain::plain(&reason),
            }));
            return;
        }
        let result = match self.session.push(step, &[self.vcpu]) {
            Ok(done) => PokeResult::Done(done),
            Err(e) => PokeResult::Refused {
                what,
                reason: crate::explain::plain(&e.to_string()),
            },
        };
        self.last = Some(Rc::new(result));
    }

    /// Append a step a form made (Migrate, Delivery path), or say why not.
    fn push_form(&mut self, step: Result<ScenarioStep, String>, what: &str) {
        match step {
            Ok(step) => {
                self.form_error = None;
                self.push(step, what.to_string());
                if let Some(PokeResult::Refused { reason, .. }) = self.last.as_deref() {
                    self.form_error = Some(reason.clone());
                }
            }
            Err(e) => self.form_error = Some(e),
        }
    }

    /// The form changed: the tables (and any open cell) are out of date.
    fn invalidate_matrix(&mut self) {
        let m = &mut self.matrix;
        m.tables = None;
        m.cell = None;
        m.detail = None;
    }

    /// Whether the Matrix view is shown without its tables: `App` then sends
    /// [`Msg::ComputeMatrix`] once the page has painted (two tables of 35 × 35
    /// migrations take ~0.3 s in the browser, which a tab click or a link landing on
    /// the view should not wait for).
    pub fn matrix_pending(&self) -> bool {
        self.view == View::Matrix && self.matrix.tables.is_none()
    }

    /// Compute the tables if they are out of date, then open the cell a link asked for.
    fn compute_matrix(&mut self) {
        let m = &mut self.matrix;
        if m.tables.is_some() {
            return;
        }
        let recipe = &RECIPES[m.vmm];
        let hosts = audit_hosts();
        let its = recipe.its == ItsSupport::Always;
        let table = |p| {
            gicx_core::audit::matrix(&hosts, recipe, m.guest, p, its, 2).map_err(|e| e.to_string())
        };
        m.tables = Some(Rc::new([table(m.policies[0]), table(m.policies[1])]));
        m.detail = None;
        if let Some((t, from, to)) = m.cell.take() {
            self.open_cell_of(t, from, to);
        }
    }

    /// Open the cell clicked: table `t`, source and destination by their index in the
    /// matrix's hosts.
    fn open_cell(&mut self, t: usize, from: usize, to: usize) {
        let hosts = audit_hosts();
        if let (Some(&f), Some(&d)) = (hosts.get(from), hosts.get(to)) {
            self.open_cell_of(t, f, d);
        }
    }

    /// Open the cell of table `t` for a migration `from` → `to`, replayed in full.
    fn open_cell_of(&mut self, t: usize, from: Host, to: Host) {
        let m = &mut self.matrix;
        let t = t.min(1);
        let recipe = &RECIPES[m.vmm];
        let mut spec = MigrationSpec::new(from, to, recipe, m.guest);
        spec.policy = m.policies[t];
        m.cell = Some((t, from, to));
        m.detail = Some(Rc::new(migrate(&spec).map_err(|e| e.to_string())));
    }

    /// Open the lesson (with its rewrites) at `cursor`.
    fn load_lesson(&mut self, cursor: usize) {
        let Some(l) = &self.lesson else { return };
        match l.scenario() {
            Ok(sc) => {
                self.session = Session::new(sc, cursor);
                self.host_form = HostForm::showing(self.session.host(), self.session.vm());
                self.vcpu = self.vcpu.min(self.session.vm().vcpus - 1);
                self.last = None;
            }
            Err(e) => self.problem("The lesson could not be opened", e),
        }
    }

    fn moved(&mut self, f: impl FnOnce(&mut Session)) {
        f(&mut self.session);
        self.last = None;
    }

    fn set_host(&mut self, host: Result<Host, gicx_core::host::HostError>) {
        match host {
            Ok(h) => {
                self.session.reconfigure(h, self.session.vm());
                self.last = None;
            }
            Err(e) => self.host_form.kernel_error = Some(e.to_string()),
        }
    }

    /// Change the VM. A log is a scenario, and every state must make a link that
    /// opens (README "Permalinks"): a change that an applied step does not fit as a
    /// scenario (a vCPU it names, a migration's NR_IRQS or ITS) is refused, naming
    /// the step; undone steps that do not fit are forgotten, as a new step forgets them.
    fn set_vm(&mut self, vm: VmConfig) {
        self.host_form.vm_error = None;
        if let Some((i, why)) = first_misfit(self.session.steps(), vm) {
            if i < self.session.cursor() {
                let op = self.session.steps()[i].op();
                let why = format!(
                    "step {} ({op}) does not fit that VM: {why}; undo past it or change it first",
                    i + 1
                );
                if vm.vcpus != self.session.vm().vcpus {
                    self.host_form.vcpus_error = Some(why);
                } else {
                    self.host_form.vm_error = Some(why);
                }
                return;
            }
            self.session.forget_from(i);
        }
        self.session.reconfigure(self.session.host(), vm);
        self.vcpu = self.vcpu.min(vm.vcpus - 1);
        self.host_form.vcpus = vm.vcpus.to_string();
        self.last = None;
        self.migrate_block = None;
    }

    /// The session was replaced or moved a long way: the forms follow it.
    fn after_session_change(&mut self) {
        self.host_form = HostForm::showing(self.session.host(), self.session.vm());
        self.vcpu = self.vcpu.min(self.session.vm().vcpus - 1);
        self.last = None;
        self.migrate_block = None;
        self.form_error = None;
    }

    /// Keep the session about to be replaced (by `by`), if it is the person's own
    /// work: a fresh session or another lesson need no keeping.
    fn keep_replaced(&mut self, by: String) {
        let fresh = self.session.steps().is_empty()
            && self.session.host() == Session::default().host()
            && self.session.vm() == VmConfig::default();
        if fresh || self.lesson.is_some() {
            return;
        }
        self.replaced = Some(Box::new(Replaced {
            by,
            session: self.session.clone(),
            lesson: self.lesson.clone(),
        }));
    }

    // ---- Migrate ----------------------------------------------------------------

    /// Whether the last applied step is a migration: the one the Migrate view shows,
    /// which Migrate re-runs from the same source.
    fn shows_migration(&self) -> bool {
        matches!(self.session.last_applied(), Some(ScenarioStep::Migrate(_)))
    }

    /// The form changed: if a migration is shown, run it again from its source.
    fn rerun_migration(&mut self) {
        if self.shows_migration() {
            self.migrate();
        }
    }

    /// Migrate with the form: the step is added (replacing a shown migration) only
    /// if the VMM can attempt it; otherwise [`AppState::migrate_block`] says why.
    fn migrate(&mut self) {
        self.form_error = None;
        self.migrate_block = None;
        let step = match self.migrate_form.step() {
            Ok(s) => s,
            Err(e) => {
                self.form_error = Some(e);
                return;
            }
        };
        let ScenarioStep::Migrate(m) = &step else {
            return;
        };
        let mut trial = self.session.clone();
        if self.shows_migration() {
            trial.undo();
        }
        let recipe = self.migrate_form.recipe();
        let vm = trial.vm();
        let reason = match validate_step(m, &vm, "migrate") {
            Err(e) => Some(e.message),
            Ok(()) => match trial.push(step, &[self.vcpu]) {
                Err(e) => Some(e.to_string()),
                Ok(done) if done.report.migration.is_none() => Some(
                    done.report
                        .failures
                        .first()
                        .cloned()
                        .unwrap_or_else(|| done.report.summary.clone()),
                ),
                Ok(done) => {
                    self.session = trial;
                    self.last = Some(Rc::new(PokeResult::Done(done)));
                    return;
                }
            },
        };
        let mut fixes = Vec::new();
        if vm.nr_irqs != recipe.nr_irqs {
            fixes.push(MigrateFix::NrIrqs(recipe.nr_irqs));
        }
        match recipe.its {
            ItsSupport::Always if !vm.its => fixes.push(MigrateFix::Its(true)),
            ItsSupport::Refused if vm.its => fixes.push(MigrateFix::Its(false)),
            _ => {}
        }
        if self.session.vgic().lifecycle() != VmLifecycle::HasRun {
            fixes.push(MigrateFix::InitRun);
        }
        fixes.push(MigrateFix::Prepare(GuestProfile::Linux));
        self.migrate_block = Some(MigrateBlock {
            reason: reason.unwrap_or_default(),
            fixes,
        });
    }

    fn migrate_fix(&mut self, fix: MigrateFix) {
        match fix {
            MigrateFix::NrIrqs(n) => {
                let vm = self.session.vm();
                match VmConfig::new(vm.vcpus, n, vm.its) {
                    Ok(vm) => self.set_vm(vm),
                    Err(e) => self.host_form.vm_error = Some(e.to_string()),
                }
            }
            MigrateFix::Its(on) => {
                let vm = self.session.vm();
                self.set_vm(VmConfig { its: on, ..vm });
            }
            MigrateFix::InitRun => {
                if self.session.vgic().lifecycle() == VmLifecycle::Created {
                    self.push(ScenarioStep::Init(LifecycleStep::default()), "init".into());
                }
                if self.session.vgic().lifecycle() != VmLifecycle::HasRun {
                    self.push(ScenarioStep::Run(LifecycleStep::default()), "run".into());
                }
            }
            MigrateFix::Prepare(guest) => {
                let recipe = self.migrate_form.recipe();
                let host = self.session.host();
                self.prepare(source_scenario(host, recipe, guest));
            }
        }
        if let Some(e) = self
            .host_form
            .vm_error
            .clone()
            .or(self.host_form.vcpus_error.clone())
        {
            self.migrate_block = Some(MigrateBlock {
                reason: e,
                fixes: vec![MigrateFix::Prepare(GuestProfile::Linux)],
            });
            return;
        }
        self.migrate();
    }

    /// Replace the session by a prepared source VM (kept for "Bring back").
    fn prepare(&mut self, sc: Scenario) {
        self.keep_replaced(sc.name.as_deref().unwrap_or("a prepared VM").to_string());
        let n = sc.steps.len();
        self.session = Session::new(sc, n);
        self.lesson = None;
        self.after_session_change();
    }

    /// The open Matrix cell, in the Migrate view: its source VM as a session, the
    /// form set to the cell's destination, VMM and policy, migrated.
    fn open_cell_in_migrate(&mut self) {
        let Some((t, from, to)) = self.matrix.cell else {
            return;
        };
        let recipe = &RECIPES[self.matrix.vmm];
        self.prepare(source_scenario(from, recipe, self.matrix.guest));
        self.migrate_form = MigrateForm {
            to: to.compact(),
            vmm: self.matrix.vmm,
            policy: self.matrix.policies[t.min(1)],
        };
        self.view = View::Migrate;
        self.migrate();
    }

    fn import(&mut self, file: &str, text: &str) {
        match parse(text) {
            Ok(sc) => {
                self.keep_replaced(format!("the file {file}"));
                self.lesson = None;
                let n = sc.steps.len();
                self.session = Session::new(sc, n);
                self.host_form = HostForm::showing(self.session.host(), self.session.vm());
                self.vcpu = self.vcpu.min(self.session.vm().vcpus - 1);
                self.last = None;
                self.import_error = None;
                self.import_note = Some(format!(
                    "Imported {file}: {n} step{} on {}",
                    if n == 1 { "" } else { "s" },
                    self.session.host()
                ));
                self.note_stopped();
            }
            Err(e) => {
                self.import_error = Some(crate::explain::plain(&format!("{file}: {e}")));
                self.import_note = None;
            }
        }
    }

    fn note_stopped(&mut self) {
        if let Some(stop) = self.session.stopped().cloned() {
            self.problem(
                "The log could not be replayed to its end",
                format!("{stop}. The steps before it are applied; the rest can be redone after changing the host or VM."),
            );
        }
    }

    // ---- links -----------------------------------------------------------------

    /// The state as a link carries it.
    pub fn permalink(&self) -> Permalink {
        let mut link = Permalink::new(self.session.scenario(true));
        link.cursor = Some(self.session.cursor());
        link.view = self.view.id().to_string();
        link.register = self.selected_instance().map(|r| r.name());
        link.vcpu = self.vcpu;
        link.value = self.value.clone();
        link.query = self.query.clone();
        if self.poke != PokeForm::default() {
            link.views
                .insert(View::Poke.id().to_string(), self.poke.to_text());
        }
        if let Some(l) = &self.lesson {
            link.views
                .insert(View::Lessons.id().to_string(), l.to_text());
        }
        if let Some(r) = &self.rule {
            link.views.insert(View::Rules.id().to_string(), r.clone());
        }
        if self.migrate_form != MigrateForm::default() {
            link.views
                .insert(View::Migrate.id().to_string(), self.migrate_form.to_text());
        }
        let matrix = self.matrix.link();
        if matrix != MatrixForm::default().link() {
            link.views
                .insert(View::Matrix.id().to_string(), matrix.to_text());
        }
        link
    }

    /// The key that changes whenever [`AppState::permalink`] would.
    pub fn link_key(&self) -> LinkKey {
        LinkKey {
            revision: self.session.revision(),
            view: self.view,
            selected: self.selected.clone(),
            instance: self.instance,
            vcpu: self.vcpu,
            value: self.value.clone(),
            query: self.query.clone(),
            poke: self.poke.clone(),
            lesson: self.lesson.clone(),
            matrix: self.matrix.link(),
            migrate: self.migrate_form.clone(),
        }
    }

    /// The state a (decoded, hence validated) link describes. Parts this
    /// version of the app does not know (a view id, a view's state) become
    /// banners naming the part; the rest is restored.
    pub fn restore(link: Permalink, embed: Option<Embed>) -> AppState {
        let cursor = link.applied();
        let mut s = AppState::with_session(Session::new(link.scenario, cursor));
        s.embed = embed;
        s.view = match link.view.as_str() {
            "" => View::default(),
            id => View::from_id(id).unwrap_or_else(|| {
                s.problem(
                    "Part of the link was not understood",
                    format!("view: {id:?} is not a view of this gicx; showing Registers"),
                );
                View::default()
            }),
        };
        if let Some(Ok(reg)) = link.register.as_deref().map(lookup) {
            s.selected = Some(reg.desc.pattern());
            s.instance = reg.index;
        }
        s.vcpu = link.vcpu.min(s.session.vm().vcpus - 1);
        s.value = link.value;
        s.query = link.query;
        if let Some(v) = link.views.get(View::Poke.id()) {
            match PokeForm::from_text(v) {
                Ok(f) => s.poke = f,
                Err(e) => s.problem(
                    "Part of the link was not understood",
                    format!("views.poke: {e}; the Poke form is reset"),
                ),
            }
        }
        if let Some(v) = link.views.get(View::Rules.id()) {
            match gicx_core::rules::by_id(v) {
                Some(r) => s.rule = Some(r.id.to_string()),
                None => s.problem(
                    "Part of the link was not understood",
                    format!("views.rules: there is no rule {v:?}; no rule is marked"),
                ),
            }
        }
        if let Some(v) = link.views.get(View::Lessons.id()) {
            // The link's scenario already is the lesson (with its rewrites):
            // only the lesson's identity and selectors come back here.
            match LessonState::from_text(v) {
                Ok(l) => s.lesson = Some(l),
                Err(e) => s.problem(
                    "Part of the link was not understood",
                    format!("views.lessons: {e}; no lesson is open"),
                ),
            }
        }
        if let Some(v) = link.views.get(View::Migrate.id()) {
            match MigrateForm::from_text(v) {
                Ok(f) => s.migrate_form = f,
                Err(e) => s.problem(
                    "Part of the link was not understood",
                    format!("views.migrate: {e}; the Migrate form is reset"),
                ),
            }
        }
        if let Some(v) = link.views.get(View::Matrix.id()) {
            match MatrixLink::from_text(v) {
                Ok(m) => {
                    s.matrix.vmm = m.vmm;
                    s.matrix.guest = m.guest;
                    s.matrix.policies = m.policies;
                    s.matrix.cell = m.cell.map(|(t, from, to)| (t.min(1), from, to));
                    s.matrix.aside = m.aside;
                }
                Err(e) => s.problem(
                    "Part of the link was not understood",
                    format!("views.matrix: {e}; the Matrix form is reset"),
                ),
            }
        }
        s.note_stopped();
        s
    }

    // ---- embedding ----------------------------------------------------------------

    /// A title that says what an embed of the current view shows (the `<iframe>`'s
    /// `title`, for screen readers and the page's own outline).
    pub fn embed_title(&self) -> String {
        let host = self.session.host().compact();
        let what = match self.view {
            View::Registers | View::Poke => match self.selected_instance() {
                Some(r) => format!("{} on a {host} host", r.name()),
                None => format!("the register catalogue on a {host} host"),
            },
            View::Log => match &self.session.name {
                Some(n) => n.clone(),
                None => format!("{} steps on a {host} host", self.session.cursor()),
            },
            View::Host => format!("the host {host} and its VM"),
            View::Migrate => match self
                .session
                .replay()
                .reports
                .last()
                .and_then(|r| r.migration.as_deref())
            {
                Some(m) => format!(
                    "{} → {} with {} ({} policy): {}",
                    m.from,
                    m.to,
                    m.vmm,
                    m.policy.as_str(),
                    m.verdict.as_str()
                ),
                None => format!("migrating a VM from {host}"),
            },
            View::Matrix => {
                let vmm = RECIPES[self.matrix.vmm].name;
                match self.matrix.cell {
                    Some((t, from, to)) => format!(
                        "{vmm}, {} → {} under the {} policy",
                        from.compact(),
                        to.compact(),
                        self.matrix.policies[t.min(1)].as_str()
                    ),
                    None => format!("{vmm}'s migration matrix, {} guest", self.matrix.guest),
                }
            }
            View::Delivery => format!("interrupt delivery on a {host} host"),
            View::Lessons => match &self.lesson {
                Some(l) => l.lesson().title.to_string(),
                None => "lessons".into(),
            },
            View::Rules => match &self.rule {
                Some(id) => format!("KVM's rule {id}"),
                None => "KVM's vGIC rules".into(),
            },
        };
        format!("gicx: {what}")
    }

    /// The `<iframe>` height (CSS pixels) the embed code suggests for the current
    /// view: what its compact embed layout needs at 700 px wide (measured by
    /// tests/e2e/embeds.test.mjs). Taller content scrolls inside the frame, the
    /// footer staying in sight; a page that runs the README's script gets the exact
    /// height from the embed instead.
    pub fn embed_height(&self) -> u32 {
        match self.view {
            View::Registers | View::Poke if self.selected.is_some() => 660,
            View::Matrix if self.matrix.cell.is_some() => 520,
            View::Matrix | View::Migrate => 720,
            View::Lessons | View::Log | View::Delivery => 560,
            _ => 480,
        }
    }

    // ---- what the views show ------------------------------------------------------

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

    /// Catalogue positions of the registers the last poke changed.
    pub fn changed_positions(&self) -> Vec<usize> {
        changed_positions(self.last.as_deref())
    }
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

/// The first step (index, why) that `vm` does not fit as a scenario.
fn first_misfit(steps: &[ScenarioStep], vm: VmConfig) -> Option<(usize, String)> {
    steps.iter().enumerate().find_map(|(i, step)| {
        let one = Scenario {
            name: None,
            description: None,
            note: None,
            host: Session::default().host(),
            vm,
            steps: vec![step.clone()],
        };
        validate(&one).err().map(|e| (i, e.message))
    })
}

/// Typed text is kept to what a link can carry ([`MAX_TEXT_CHARS`]), so the
/// state always encodes to a link that decodes again.
fn clip(mut text: String) -> String {
    if let Some((i, _)) = text.char_indices().nth(MAX_TEXT_CHARS) {
        text.truncate(i);
    }
    text
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

#[cfg(test)]
mod tests {
    use super::*;
    use gicx_core::permalink::{decode as decode_link, encode};

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

    fn selected(pattern: &str) -> AppState {
        AppState::default().apply(Msg::Select(position(pattern)))
    }

    fn done(s: &AppState) -> &Done {
        match s.last.as_deref() {
            Some(PokeResult::Done(d)) => d,
            other => panic!("expected a done poke, got {other:?}"),
        }
    }

    fn refused(s: &AppState) -> String {
        match s.last.as_deref() {
            Some(PokeResult::Refused { reason, .. }) => reason.clone(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    // ---- Registers ------------------------------------------------------------------

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
        let s = searched("0x104").apply(Msg::Select(position("GICD_ISENABLER<n>")));
        assert_eq!(s.selected_instance().unwrap().name(), "GICD_ISENABLER1");
        let s = searched("enable").apply(Msg::Select(position("GICD_ISENABLER<n>")));
        assert_eq!(s.selected_instance().unwrap().name(), "GICD_ISENABLER0");
    }

    #[test]
    fn keys_move_within_the_results() {
        let s = searched("GICD_TYPER");
        assert_eq!(names(&s)[..2], ["GICD_TYPER", "GICD_TYPER2"]);
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
    fn instance_and_vcpu_are_clamped() {
        let s = selected("GICD_ISENABLER<n>")
            .apply(Msg::SetInstance(1000))
            .apply(Msg::SetVcpu(99));
        assert_eq!(s.selected_instance().unwrap().name(), "GICD_ISENABLER31");
        assert_eq!(s.vcpu, 3, "the default VM has 4 vCPUs");
    }

    #[test]
    fn value_decodes_the_fields() {
        // The tester starts at the register's current value (v4.1@6.17: nASSGIcap).
        let s = selected("GICD_TYPER2");
        assert_eq!(s.value, "0x100");
        let s = s.apply(Msg::SetValue(String::new()));
        let rows = s.field_rows();
        assert!(rows.iter().all(|r| r.value.is_none()), "no value to decode");
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
    fn bits_toggle_and_values_load_into_the_tester() {
        let s = selected("GICD_TYPER2")
            .apply(Msg::SetValue(String::new()))
            .apply(Msg::ToggleBit(8));
        assert_eq!(s.value, "0x100");
        let s = s.apply(Msg::ToggleBit(0)).apply(Msg::ToggleBit(8));
        assert_eq!(s.value, "0x1");
        let s = s.apply(Msg::ToggleBit(32));
        assert_eq!(s.value, "0x1", "a 32-bit register has no bit 32");
        let s = s
            .apply(Msg::SetValue("junk".into()))
            .apply(Msg::ToggleBit(1));
        assert_eq!(s.value, "0x2", "an invalid value toggles from 0");
        let s = selected("GICD_IROUTER<n>");
        assert_eq!(s.value, "0x0", "the current value");
        let s = s.apply(Msg::ToggleBit(63));
        assert_eq!(s.value, "0x8000000000000000");
        assert_eq!(s.apply(Msg::UseValue(255)).value, "0xff");
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
        let s = selected("GICD_TYPER2").apply(Msg::SetValue("0x1_0000_0000".into()));
        assert_eq!(
            s.tested_value(),
            Some(Err(ValueError::TooWide {
                value: 1 << 32,
                bits: 32
            }))
        );
        assert!(s.field_rows().iter().all(|r| r.value.is_none()));
    }

    // ---- Poke -------------------------------------------------------------------------

    #[test]
    fn poking_as_the_vmm_shows_the_errno_and_its_rule() {
        // 6.17, after init: TYPER2 can no longer be written (EBUSY).
        let s = selected("GICD_TYPER2")
            .apply(Msg::Lifecycle(Lifecycle::Init))
            .apply(Msg::SetActor(Actor::Vmm))
            .apply(Msg::SetPokeValue("0".into()))
            .apply(Msg::Poke(Access::Write));
        let d = done(&s);
        let o = d.report.outcome.as_ref().unwrap();
        assert_eq!(o.errno.map(|e| e.as_str()), Some("EBUSY"));
        assert!(o.rule().is_some());
        assert!(d.changes.is_empty());
        assert_eq!(s.session.cursor(), 2);
    }

    #[test]
    fn poking_as_the_guest_before_init_is_a_failed_kvm_run_and_undo_recovers() {
        // The guest runs only inside KVM_RUN: before init its first run fails
        // (-EBUSY) and, on 6.17, kills the VM; the step is logged like on KVM.
        let s = selected("GICD_CTLR").apply(Msg::Poke(Access::Read));
        let o = done(&s).report.outcome.clone().unwrap();
        assert_eq!(o.errno.map(|e| e.as_str()), Some("EBUSY"));
        assert_eq!(o.rule().map(|r| r.id), Some("lifecycle.vm_dead"));
        assert_eq!(s.session.cursor(), 1);
        let s = s.apply(Msg::Lifecycle(Lifecycle::Init));
        let o = done(&s).report.outcome.clone().unwrap();
        assert_eq!(o.errno.map(|e| e.as_str()), Some("EIO"));
        let s = s.apply(Msg::Seek(0));
        assert!(!s.session.vgic().is_dead());
        // After init a guest poke is the first KVM_RUN, and succeeds.
        let s = s
            .apply(Msg::Lifecycle(Lifecycle::Init))
            .apply(Msg::SetPokeValue("0x12".into()))
            .apply(Msg::Poke(Access::Write));
        assert_eq!(done(&s).report.outcome.as_ref().unwrap().errno, None);
        assert!(done(&s).changes.iter().any(|c| c.name == "GICD_CTLR"));
        assert_eq!(s.changed_positions(), [position("GICD_CTLR")]);
        let s = s.apply(Msg::Undo);
        assert!(s.last.is_none() && s.changed_positions().is_empty());
    }

    #[test]
    fn poking_without_a_register_or_a_value_is_explained() {
        let s = AppState::default().apply(Msg::Poke(Access::Read));
        assert_eq!(refused(&s), "select a register first");
        let s = selected("GICD_CTLR")
            .apply(Msg::SetActor(Actor::Vmm))
            .apply(Msg::Poke(Access::Write));
        assert!(refused(&s).starts_with("type a value"));
    }

    // ---- Landing ------------------------------------------------------------------------

    #[test]
    fn the_landing_shows_on_a_fresh_start_and_its_three_ways_in_lead_somewhere() {
        assert!(AppState::default().landing());
        let learn = AppState::default().apply(Msg::Begin(Journey::Learn));
        assert_eq!(learn.view, View::Lessons);
        assert_eq!(learn.lesson.as_ref().map(|l| l.index), Some(0));
        assert!(!learn.session.steps().is_empty() && !learn.landing());
        let look = AppState::default().apply(Msg::Begin(Journey::LookUp));
        assert_eq!(look.selected.as_deref(), Some(LANDING_REGISTER));
        assert!(!look.landing());
        let check = AppState::default().apply(Msg::Begin(Journey::CheckMigration));
        assert_eq!(check.view, View::Migrate);
        assert!(check.migrate_block.is_none(), "{:?}", check.migrate_block);
        assert_eq!(
            check.session.last_applied().map(|s| s.op()),
            Some("migrate"),
            "the prepared VM is migrated"
        );
    }

    #[test]
    fn search_finds_words_instances_and_descriptions_and_suggests_near_misses() {
        let names = |q: &str| names(&searched(q));
        assert!(names("IROUTER287").contains(&"GICD_IROUTER<n>".to_string()));
        let s = searched("GICD_IROUTER287").apply(Msg::Select(position("GICD_IROUTER<n>")));
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
    fn rule_links_open_the_rules_view_on_that_rule_and_travel_in_links() {
        let s = AppState::default().apply(Msg::OpenRuleLink("#rule/lifecycle.vm_dead".into()));
        assert_eq!(
            (s.view, s.rule.as_deref()),
            (View::Rules, Some("lifecycle.vm_dead"))
        );
        round_trips(&s);
        let bad = AppState::default().apply(Msg::OpenRuleLink("#rule/nope".into()));
        assert!(bad.rule.is_none() && !bad.banners.is_empty());
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
        assert!(s.selected.is_none());
        assert!(
            s.banners[0].detail.contains("did you mean GICD_CTLR?"),
            "{:?}",
            s.banners
        );
    }

    // ---- Log ----------------------------------------------------------------------------

    #[test]
    fn undo_redo_and_seek() {
        let s = selected("GICD_TYPER2")
            .apply(Msg::Lifecycle(Lifecycle::Init))
            .apply(Msg::Lifecycle(Lifecycle::Run))
            .apply(Msg::Undo);
        assert_eq!((s.session.cursor(), s.session.steps().len()), (1, 2));
        let s = s.apply(Msg::Redo);
        assert_eq!(s.session.cursor(), 2);
        let s = s.apply(Msg::Seek(0));
        assert_eq!(s.session.cursor(), 0);
    }

    #[test]
    fn import_replaces_the_session_or_names_the_error() {
        let text = r#"{"host": {"gic": "v3", "kernel": "5.10"}, "vm": {"vcpus": 2},
            "steps": [{"op": "init"}, {"op": "user_read", "reg": "GICD_IIDR"}]}"#;
        let s = AppState::default()
            .apply(Msg::SetVcpu(3))
            .apply(Msg::Import {
                file: "a.json".into(),
                text: text.into(),
            });
        assert_eq!(s.session.cursor(), 2);
        assert_eq!(s.session.host().compact(), "v3@5.10");
        assert_eq!(s.host_form.kernel, "5.10");
        assert_eq!(s.vcpu, 1, "clamped to the imported VM");
        assert!(s
            .import_note
            .as_deref()
            .unwrap()
            .starts_with("Imported a.json: 2 steps"));

        let s = s.apply(Msg::Import {
            file: "b.json".into(),
            text: r#"{"host": {"gic": "v3", "kernel": "5.10"},
  "steps": [{"op": "user_read", "reg": "GICD_TYPR2"}]}"#
                .into(),
        });
        let e = s.import_error.as_deref().unwrap();
        assert!(e.starts_with("b.json: steps[0].reg"), "{e}");
        assert!(e.contains("did you mean GICD_TYPER2"), "{e}");
        assert_eq!(s.session.host().compact(), "v3@5.10", "the session is kept");

        let s = s.apply(Msg::Import {
            file: "c.json".into(),
            text: "{\n  \"host\": [".into(),
        });
        assert!(s
            .import_error
            .as_deref()
            .unwrap()
            .contains("(line 2, column"));
    }

    // ---- Host and VM ----------------------------------------------------------------------

    #[test]
    fn kernel_text_resolves_live_and_bad_text_keeps_the_host() {
        let s = AppState::default().apply(Msg::SetKernel("5.15".into()));
        assert_eq!(s.session.host().era().as_str(), "5.13");
        assert_eq!(s.host_form.kernel_error, None);
        let s = s.apply(Msg::SetKernel("4.14".into()));
        assert!(s
            .host_form
            .kernel_error
            .as_deref()
            .unwrap()
            .contains("older than 4.19"));
        assert_eq!(
            s.session.host().kernel.to_string(),
            "5.15",
            "last good kernel kept"
        );
        assert_eq!(s.host_form.kernel, "4.14", "the text stays as typed");
        let s = s.apply(Msg::SetKernel("six".into()));
        assert!(s.host_form.kernel_error.as_deref().unwrap().contains("X.Y"));
    }

    #[test]
    fn host_changes_replay_the_log() {
        let s = selected("GICD_TYPER2")
            .apply(Msg::Lifecycle(Lifecycle::Init))
            .apply(Msg::SetActor(Actor::Vmm))
            .apply(Msg::Poke(Access::Read));
        let read = |s: &AppState| {
            s.session.replay().reports[1]
                .outcome
                .as_ref()
                .unwrap()
                .value
        };
        assert_eq!(read(&s), 0x100);
        let s = s.apply(Msg::Preset(0));
        assert_eq!(s.session.host().compact(), "v3@6.8");
        assert_eq!(s.host_form.kernel, "6.8");
        assert_eq!(read(&s), 0);
        let s = s.apply(Msg::SetGic(GicHw::V4_1));
        assert!(
            s.session.host().cpuif_vsgi,
            "a v4.1 CPU interface by default"
        );
        let s = s.apply(Msg::SetCpuifVsgi(false));
        assert_eq!(s.session.host().compact(), "v4.1+novsgi@6.8");
        assert_eq!(read(&s), 0, "no vSGIs without a v4.1 CPU interface (5.13+)");
        let s = s.apply(Msg::SetV4Enable(false));
        assert_eq!(s.session.host().compact(), "v4.1+novsgi+nov4@6.8");
    }

    #[test]
    fn vm_changes_are_checked() {
        let s = AppState::default()
            .apply(Msg::SetVcpu(3))
            .apply(Msg::SetVcpus("2".into()));
        assert_eq!((s.session.vm().vcpus, s.vcpu), (2, 1));
        let s = s.apply(Msg::SetVcpus("0".into()));
        assert!(s
            .host_form
            .vcpus_error
            .as_deref()
            .unwrap()
            .contains("1..=512"));
        assert_eq!(s.session.vm().vcpus, 2);
        let s = s.apply(Msg::SetVcpus("lots".into()));
        assert!(s.host_form.vcpus_error.is_some());
        let s = s.apply(Msg::SetNrIrqs(992)).apply(Msg::SetNrIrqs(1024));
        assert_eq!(s.session.vm().nr_irqs, 992, "1024 is refused");
        let s = s.apply(Msg::SetIts(true));
        assert!(s.session.vm().its);
    }

    // ---- links ----------------------------------------------------------------------------

    fn worked() -> AppState {
        selected("GICD_IPRIORITYR<n>")
            .apply(Msg::SetInstance(9))
            .apply(Msg::SetVcpu(2))
            .apply(Msg::SetValue("0xa0a0".into()))
            .apply(Msg::Search("prio".into()))
            .apply(Msg::SetKernel("5.15".into()))
            .apply(Msg::Lifecycle(Lifecycle::Init))
            .apply(Msg::Lifecycle(Lifecycle::Run))
            .apply(Msg::SetWidth(8))
            .apply(Msg::SetAt(2))
            .apply(Msg::SetPokeValue("0x80".into()))
            .apply(Msg::Poke(Access::Write))
            .apply(Msg::Undo)
            .apply(Msg::Show(View::Poke))
    }

    #[test]
    fn a_link_restores_the_state_exactly() {
        let s = worked();
        let text = encode(&s.permalink());
        let r = AppState::restore(decode_link(&text).unwrap(), None);
        assert_eq!(r.permalink(), s.permalink());
        assert_eq!(r.link_key().view, View::Poke);
        assert_eq!(r.selected_instance().unwrap().name(), "GICD_IPRIORITYR9");
        assert_eq!(
            (r.vcpu, r.value.as_str(), r.query.as_str()),
            (2, "0xa0a0", "prio")
        );
        assert_eq!((r.session.cursor(), r.session.steps().len()), (2, 3));
        assert_eq!(r.poke, s.poke);
        assert_eq!(r.host_form.kernel, "5.15");
        assert!(r.banners.is_empty());
        // Redo after the restore does what redo did before it.
        let (a, b) = (s.apply(Msg::Redo), r.apply(Msg::Redo));
        assert_eq!(
            a.session.vgic().state(),
            b.session.vgic().state(),
            "the same VM after redo"
        );
    }

    #[test]
    fn typed_text_is_kept_linkable() {
        let long = "é".repeat(MAX_TEXT_CHARS + 10);
        let s = selected("GICD_CTLR")
            .apply(Msg::SetValue(long.clone()))
            .apply(Msg::Search(long.clone()))
            .apply(Msg::SetPokeValue(long));
        assert_eq!(s.value.chars().count(), MAX_TEXT_CHARS);
        let back = decode_link(&encode(&s.permalink())).unwrap();
        assert_eq!(AppState::restore(back, None).permalink(), s.permalink());
    }

    #[test]
    fn unknown_view_parts_become_banners() {
        let mut link = worked().permalink();
        link.view = "no-such-view".into();
        link.views.insert("poke".into(), "guest 12 0 ".into());
        let r = AppState::restore(link, None);
        assert_eq!(r.view, View::Registers);
        assert_eq!(r.poke, PokeForm::default());
        let details: Vec<&str> = r.banners.iter().map(|b| b.detail.as_str()).collect();
        assert!(
            details[0].starts_with("view: \"no-such-view\""),
            "{details:?}"
        );
        assert!(details[1].starts_with("views.poke"), "{details:?}");
    }

    #[test]
    fn link_key_tracks_every_linked_part() {
        let s = worked();
        let k = s.link_key();
        assert_eq!(s.clone().apply(Msg::Search("prio".into())).link_key(), k);
        for msg in [
            Msg::Redo,
            Msg::Show(View::Log),
            Msg::SetValue("1".into()),
            Msg::SetVcpu(0),
            Msg::SetWidth(32),
            Msg::SetKernel("6.8".into()),
            Msg::Search("x".into()),
        ] {
            assert_ne!(s.clone().apply(msg.clone()).link_key(), k, "{msg:?}");
        }
    }

    #[test]
    fn read_only_embeds_change_nothing() {
        let mut s = worked();
        s.embed = Some(Embed::ReadOnly);
        let key = s.link_key();
        let s = s
            .apply(Msg::Undo)
            .apply(Msg::SetValue("7".into()))
            .apply(Msg::Show(View::Log));
        assert_eq!(s.link_key(), key);
        let s = s.apply(Msg::Problem {
            title: "t".into(),
            detail: "d".into(),
        });
        assert_eq!(s.banners.len(), 1, "problems are still shown");
    }

    #[test]
    fn banners_are_shown_once_and_dismissed() {
        let p = || Msg::Problem {
            title: "Bad link".into(),
            detail: "version: missing".into(),
        };
        let s = AppState::default().apply(p()).apply(p());
        assert_eq!(s.banners.len(), 1);
        let id = s.banners[0].id;
        assert!(s.apply(Msg::Dismiss(id)).banners.is_empty());
    }

    #[test]
    fn restoring_keeps_earlier_banners_and_theme() {
        let s = AppState::default()
            .apply(Msg::SetTheme(Theme::Dark))
            .apply(Msg::Problem {
                title: "a".into(),
                detail: "b".into(),
            })
            .apply(Msg::Restore(Box::new(worked().permalink()), None));
        assert_eq!(s.theme, Theme::Dark);
        assert_eq!(s.banners.len(), 1);
        assert_eq!(s.session.cursor(), 2);
    }

    #[test]
    fn copying_falls_back_to_a_selected_field() {
        let s = AppState::default().apply(Msg::Copied {
            what: "Link".into(),
            ok: true,
            fallback: Share::Link,
        });
        assert_eq!(s.status.as_deref(), Some("Link copied to the clipboard"));
        assert_eq!(s.share, Share::Closed);
        let s = s.apply(Msg::Copied {
            what: "Link".into(),
            ok: false,
            fallback: Share::Link,
        });
        assert_eq!(
            s.status.as_deref(),
            Some("Press Ctrl+C to copy the selected link")
        );
        assert_eq!(s.share, Share::Link);
        let s = s.apply(Msg::ShowShare(Share::Embed(Embed::Interactive)));
        assert_eq!(s.share, Share::Embed(Embed::Interactive));
    }

    #[test]
    fn themes_cycle() {
        assert_eq!(Theme::System.next().next().next(), Theme::System);
        for t in [Theme::System, Theme::Light, Theme::Dark] {
            assert_eq!(Theme::from_id(t.id()), t);
        }
    }

    // ---- Migrate, Matrix, Delivery path, Lessons ------------------------------------

    fn lesson_at(i: usize, steps: isize) -> AppState {
        AppState::default()
            .apply(Msg::OpenLesson(i))
            .apply(Msg::LessonStep(steps))
    }

    fn last_verdict(s: &AppState) -> Option<&'static str> {
        s.session
            .replay()
            .reports
            .iter()
            .rev()
            .find_map(|r| r.migration.as_ref().map(|m| m.verdict.as_str()))
    }

    #[test]
    fn migrate_appends_a_step_and_shows_its_verdict() {
        // The 2020 lesson up to (not including) its migration: a Linux guest on v4.1@5.7.
        let s = lesson_at(1, 12);
        assert_eq!(s.session.cursor(), 12);
        let s = s
            .apply(Msg::SetMigrateTo("v4.0@5.7".into()))
            .apply(Msg::SetMigrateVmm(crate::explore::recipe_index(
                "firecracker",
            )))
            .apply(Msg::SetMigratePolicy(RestorePolicy::Kernel))
            .apply(Msg::Migrate);
        assert_eq!(s.form_error, None);
        assert_eq!(s.session.cursor(), 13);
        assert_eq!(last_verdict(&s), Some("silently-broken"));
        let undone = s.clone().apply(Msg::Undo);
        assert_eq!(last_verdict(&undone), None);
        // A bad host is refused before anything runs.
        let bad = s
            .apply(Msg::SetMigrateTo("v9@x".into()))
            .apply(Msg::Migrate);
        assert!(bad.form_error.is_some());
        assert_eq!(bad.session.cursor(), 13);
    }

    fn migration(s: &AppState) -> &gicx_core::migrate::Migration {
        s.session
            .replay()
            .reports
            .last()
            .and_then(|r| r.migration.as_deref())
            .expect("the last step is a migration")
    }

    fn round_trips(s: &AppState) {
        let back = decode_link(&encode(&s.permalink())).expect("the app opens its own link");
        assert_eq!(AppState::restore(back, None).permalink(), s.permalink());
    }

    #[test]
    fn a_migration_the_vmm_cannot_attempt_is_explained_with_fixes_not_logged() {
        // Issue 13: a fresh app, Host v4.1 / 6.8, qemu to v4.0@6.17.
        let s = AppState::default()
            .apply(Msg::SetKernel("6.8".into()))
            .apply(Msg::Show(View::Migrate))
            .apply(Msg::SetMigrateTo("v4.0@6.17".into()))
            .apply(Msg::SetMigrateVmm(crate::explore::recipe_index("qemu")))
            .apply(Msg::Migrate);
        assert_eq!(s.session.steps().len(), 0, "nothing is logged");
        let block = s.migrate_block.clone().expect("the refusal is in the view");
        assert!(block.reason.contains("NR_IRQS 288"), "{}", block.reason);
        assert_eq!(
            block.fixes,
            [
                MigrateFix::NrIrqs(288),
                MigrateFix::InitRun,
                MigrateFix::Prepare(GuestProfile::Linux)
            ]
        );
        round_trips(&s);
        // nr_irqs alone: the VMM then cannot save a VM that was never initialised.
        let s = s.apply(Msg::MigrateFix(MigrateFix::NrIrqs(288)));
        assert_eq!(s.session.vm().nr_irqs, 288);
        let block = s.migrate_block.clone().unwrap();
        assert!(block.reason.contains("EBUSY"), "{}", block.reason);
        assert_eq!(
            block.fixes,
            [
                MigrateFix::InitRun,
                MigrateFix::Prepare(GuestProfile::Linux)
            ]
        );
        let s = s.apply(Msg::MigrateFix(MigrateFix::InitRun));
        assert_eq!(s.migrate_block, None);
        assert_eq!(s.session.steps().len(), 3, "init, run, migrate");
        let m = migration(&s);
        assert_eq!((m.from.as_str(), m.to.as_str()), ("v4.1@6.8", "v4.0@6.17"));
        round_trips(&s);
    }

    #[test]
    fn changing_the_policy_or_destination_reruns_from_the_same_source() {
        let s = lesson_at(1, 12)
            .apply(Msg::SetMigrateTo("v4.0@5.7".into()))
            .apply(Msg::Migrate);
        assert_eq!(s.session.cursor(), 13);
        assert_eq!(migration(&s).verdict.as_str(), "silently-broken");
        let s = s.apply(Msg::SetMigratePolicy(RestorePolicy::Relaxed2020));
        assert_eq!(s.session.cursor(), 13, "replaced, not chained");
        let m = migration(&s);
        assert_eq!((m.from.as_str(), m.to.as_str()), ("v4.1@5.7", "v4.0@5.7"));
        assert_eq!(m.policy, RestorePolicy::Relaxed2020);
        let s = s
            .apply(Msg::SetMigrateTo("v4.0@6.17".into()))
            .apply(Msg::Migrate);
        assert_eq!(s.session.cursor(), 13);
        let m = migration(&s);
        assert_eq!((m.from.as_str(), m.to.as_str()), ("v4.1@5.7", "v4.0@6.17"));
        round_trips(&s);
        let r = AppState::restore(decode_link(&encode(&s.permalink())).unwrap(), None);
        assert_eq!(
            r.migrate_form, s.migrate_form,
            "the form travels in the link"
        );
    }

    #[test]
    fn preparing_the_vm_replaces_the_session_which_can_be_brought_back() {
        let s = AppState::default()
            .apply(Msg::Lifecycle(Lifecycle::Init))
            .apply(Msg::SetMigrateVmm(crate::explore::recipe_index("qemu")))
            .apply(Msg::SetMigrateTo("v4.0@6.17".into()))
            .apply(Msg::Migrate);
        assert!(s.migrate_block.is_some());
        let s = s.apply(Msg::MigrateFix(MigrateFix::Prepare(GuestProfile::Linux)));
        assert_eq!(s.migrate_block, None);
        assert_eq!(s.session.vm().nr_irqs, 288);
        assert_eq!(
            migration(&s).guest,
            "",
            "the session's own steps, no profile"
        );
        let kept = s.replaced.as_ref().expect("the old session is kept");
        assert_eq!(kept.session.steps().len(), 1);
        round_trips(&s);
        let back = s.apply(Msg::BringBack);
        assert_eq!(back.session.steps().len(), 1);
        assert_eq!(back.session.vm().nr_irqs, 256);
        assert!(back.replaced.is_none());
    }

    #[test]
    fn a_matrix_cell_opens_in_migrate_with_the_same_verdict() {
        let hosts = audit_hosts();
        let mut s = AppState::default()
            .apply(Msg::SetMatrixVmm(crate::explore::recipe_index("qemu")))
            .apply(Msg::Show(View::Matrix));
        for (t, from, to) in [
            (0, "v4.1@5.7", "v4.0@5.7"),
            (1, "v4.1@6.17", "v4.0@6.17"),
            (0, "v3@6.8", "v4.1@6.17"),
        ] {
            let f = hosts.iter().position(|h| h.compact() == from).unwrap();
            let d = hosts.iter().position(|h| h.compact() == to).unwrap();
            s = s.apply(Msg::OpenCell(t, f, d));
            let cell = match s.matrix.detail.as_deref() {
                Some(Ok(m)) => m.verdict,
                other => panic!("{other:?}"),
            };
            let opened = s.clone().apply(Msg::OpenCellInMigrate);
            assert_eq!(opened.view, View::Migrate);
            assert_eq!(opened.migrate_block, None);
            let m = migration(&opened);
            assert_eq!((m.from.as_str(), m.to.as_str()), (from, to));
            assert_eq!(m.verdict, cell, "{from} -> {to}, table {t}");
            round_trips(&opened);
        }
    }

    #[test]
    fn vm_changes_that_a_logged_step_does_not_fit_are_refused() {
        let s = AppState::default()
            .apply(Msg::Lifecycle(Lifecycle::Init))
            .apply(Msg::Lifecycle(Lifecycle::Run))
            .apply(Msg::SetSgiTargets("3".into()))
            .apply(Msg::SendSgi);
        assert_eq!(s.session.cursor(), 3);
        let kept = s.clone().apply(Msg::SetVcpus("2".into()));
        assert_eq!(kept.session.vm().vcpus, 4);
        let why = kept.host_form.vcpus_error.clone().unwrap();
        assert!(why.starts_with("step 3 (sgi)"), "{why}");
        // Undone, the step is forgotten instead.
        let s = s.apply(Msg::Undo).apply(Msg::SetVcpus("2".into()));
        assert_eq!(s.session.vm().vcpus, 2);
        assert_eq!(s.session.steps().len(), 2);
        // And a step that names a missing vCPU is not logged at all.
        let s = s.apply(Msg::SendSgi);
        assert_eq!(s.session.steps().len(), 2);
        let why = s.form_error.clone().unwrap();
        assert!(why.contains("target vCPU 3: the VM has 2 vCPUs"), "{why}");
        round_trips(&s);
    }

    #[test]
    fn matrix_computes_both_policies_and_opens_cells() {
        let s = AppState::default().apply(Msg::Show(View::Matrix));
        // Shown, the view waits for its tables: App computes them once painted.
        assert!(s.matrix_pending() && s.matrix.tables.is_none());
        let s = s.apply(Msg::ComputeMatrix);
        assert!(!s.matrix_pending());
        let tables = s.matrix.tables.clone().unwrap();
        let m = tables[0].as_ref().unwrap();
        let hosts = &m.hosts;
        let from = hosts.iter().position(|h| h == "v4.1@5.7").unwrap();
        let to = hosts.iter().position(|h| h == "v4.0@5.7").unwrap();
        assert_eq!(m.cells[from][to].verdict.as_str(), "silently-broken");
        let s = s.apply(Msg::OpenCell(0, from, to));
        let d = s.matrix.detail.clone().unwrap();
        assert_eq!(
            d.as_ref().as_ref().unwrap().verdict.as_str(),
            "silently-broken"
        );
        let s = s.apply(Msg::SetMatrixPolicy(1, RestorePolicy::AcceptAny));
        assert!(s.matrix.detail.is_none() && s.matrix_pending());
        let s = s.apply(Msg::ComputeMatrix);
        assert_eq!(
            s.matrix.tables.as_ref().unwrap()[1]
                .as_ref()
                .unwrap()
                .policy,
            RestorePolicy::AcceptAny
        );
        let s = s.apply(Msg::CloseCell).apply(Msg::AuditStart);
        assert!(matches!(s.matrix.audit, AuditRun::Running { .. }));
    }

    #[test]
    fn the_matrix_form_and_its_open_cell_travel_in_links() {
        let s = AppState::default();
        assert!(
            !s.permalink().views.contains_key("matrix"),
            "the default form adds nothing to links"
        );
        let qemu = RECIPES.iter().position(|r| r.id == "qemu").unwrap();
        let hosts = audit_hosts();
        let s = s
            .apply(Msg::SetMatrixVmm(qemu))
            .apply(Msg::SetMatrixPolicy(1, RestorePolicy::AcceptAny))
            .apply(Msg::Show(View::Matrix))
            .apply(Msg::ComputeMatrix)
            .apply(Msg::OpenCell(1, 0, 3));
        let link = s.permalink();
        let expected = format!(
            "qemu linux kernel accept-any 1:{}>{}",
            hosts[0].compact(),
            hosts[3].compact()
        );
        assert_eq!(link.views.get("matrix"), Some(&expected));
        let verdict = |st: &AppState| {
            st.matrix
                .detail
                .as_deref()
                .map(|d| d.as_ref().unwrap().verdict)
        };
        assert!(verdict(&s).is_some());

        // Through the codec, as a link travels: the same form, the same cell open
        // once the tables are computed.
        let back = AppState::restore(decode_link(&encode(&link)).unwrap(), None);
        assert_eq!(back.view, View::Matrix);
        assert!(back.matrix_pending());
        let back = back.apply(Msg::ComputeMatrix);
        assert_eq!(back.matrix.link(), s.matrix.link());
        assert!(back.matrix.tables.is_some());
        assert_eq!(verdict(&back), verdict(&s));
        assert!(back.banners.is_empty(), "{:?}", back.banners);

        // Closing the cell or changing the form changes the link.
        let key = s.link_key();
        assert_ne!(s.clone().apply(Msg::CloseCell).link_key(), key);

        // Landing on another view: the tables wait until Matrix is shown, and the
        // cell opens then; a read-only embed computes them too.
        let mut elsewhere = link.clone();
        elsewhere.view = "registers".into();
        let r = AppState::restore(elsewhere, None);
        assert!(r.matrix.tables.is_none() && r.matrix.detail.is_none());
        assert!(!r.matrix_pending());
        let r = r.apply(Msg::Show(View::Matrix)).apply(Msg::ComputeMatrix);
        assert_eq!(verdict(&r), verdict(&s));
        let embed = AppState::restore(link.clone(), Some(Embed::ReadOnly));
        let embed = embed.apply(Msg::ComputeMatrix);
        assert_eq!(verdict(&embed), verdict(&s));

        for bad in [
            "qemu linux kernel",
            "qemu9 linux kernel kernel",
            "qemu penguin kernel kernel",
            "qemu linux kernel nope",
            "qemu linux kernel kernel 2:v3@5.7>v3@5.7",
            "qemu linux kernel kernel 0:v3@5.7",
            "qemu linux kernel kernel 0:v9@5.7>v3@5.7",
        ] {
            let mut l = link.clone();
            l.view = "registers".into(); // (no tables computed: quicker)
            l.views.insert("matrix".into(), bad.into());
            let r = AppState::restore(l, None);
            assert_eq!(r.matrix.link(), MatrixForm::default().link(), "{bad}");
            assert!(
                r.banners
                    .iter()
                    .any(|b| b.detail.starts_with("views.matrix: ")),
                "{bad}: {:?}",
                r.banners
            );
        }
    }

    #[test]
    fn a_link_that_lands_on_the_matrix_shows_its_tables() {
        let mut link = AppState::default().permalink();
        link.view = "matrix".into();
        let s = AppState::restore(link, None);
        assert_eq!(s.view, View::Matrix);
        assert!(
            s.matrix_pending(),
            "App computes the tables after the first paint"
        );
        assert!(s.apply(Msg::ComputeMatrix).matrix.tables.is_some());
    }

    #[test]
    fn the_audit_runs_in_slices_to_the_counts_the_core_audit_gives() {
        let mut s = AppState::default();
        // A slice of the space, so the test is quick in a debug build.
        s.matrix.audit_options.hosts = ["v4.1@5.7", "v4.0@6.8", "v4.1@6.17"]
            .iter()
            .map(|h| gicx_core::host::Host::parse_compact(h).unwrap())
            .collect();
        let expected = gicx_core::audit::audit(&s.matrix.audit_options)
            .unwrap()
            .per_policy;
        // A slice before any start, or after Stop, changes nothing.
        let s = s.apply(Msg::AuditSlice);
        assert!(matches!(s.matrix.audit, AuditRun::Idle));
        let stopped = s.clone().apply(Msg::AuditStart).apply(Msg::AuditStop);
        assert!(matches!(stopped.matrix.audit, AuditRun::Idle));
        assert!(matches!(
            stopped.apply(Msg::AuditSlice).matrix.audit,
            AuditRun::Idle
        ));

        let mut s = s.apply(Msg::AuditStart);
        let total = match &s.matrix.audit {
            AuditRun::Running { progress, .. } => progress.total,
            other => panic!("{other:?}"),
        };
        let mut at = vec![s.matrix.audit.running_at().unwrap()];
        // Slices of the minimum budget: one piece each, each moving the key on.
        while s.matrix.audit.running_at().is_some() {
            let before = s.clone(); // the reducer's copy shares the job
            s.matrix.audit = std::mem::take(&mut s.matrix.audit).slice(0.0);
            drop(before);
            if let Some(n) = s.matrix.audit.running_at() {
                at.push(n);
            }
        }
        assert_eq!(at, (0..total).collect::<Vec<_>>());
        let AuditRun::Done(rows) = &s.matrix.audit else {
            panic!("{:?}", s.matrix.audit);
        };
        let got: Vec<_> = rows.iter().map(|r| (r.policy, r.counts)).collect();
        let want: Vec<_> = expected.iter().map(|r| (r.policy, r.counts)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn sgi_and_spi_append_steps_with_hops() {
        let s = lesson_at(0, 8)
            .apply(Msg::SetSgiFrom(0))
            .apply(Msg::SetSgiIntid("3".into()))
            .apply(Msg::SetSgiTargets("1".into()))
            .apply(Msg::SendSgi);
        assert_eq!(s.form_error, None);
        let r = s.session.replay().reports.last().unwrap().clone();
        assert_eq!(r.op, "sgi");
        assert!(!r.trace().is_empty());
        let s = s
            .apply(Msg::SetSpiIntid("40".into()))
            .apply(Msg::SetSpiLevel(true))
            .apply(Msg::RaiseSpi);
        assert_eq!(s.session.replay().reports.last().unwrap().op, "irq_line");
        let bad = s
            .apply(Msg::SetSgiTargets("one".into()))
            .apply(Msg::SendSgi);
        assert!(bad.form_error.unwrap().contains("target"));
    }

    #[test]
    fn an_open_lesson_survives_a_link() {
        let s = lesson_at(1, 5).apply(Msg::SetLessonPolicy(Some(RestorePolicy::AcceptAny)));
        let link = s.permalink();
        assert_eq!(
            link.views.get("lessons").map(String::as_str),
            Some("1 accept-any -")
        );
        let back = AppState::restore(link.clone(), None);
        assert_eq!(back.lesson, s.lesson);
        assert_eq!(back.session.cursor(), s.session.cursor());
        let mut bad = link;
        bad.views.insert("lessons".into(), "99 - -".into());
        let back = AppState::restore(bad, None);
        assert!(back.lesson.is_none());
        assert!(
            back.banners
                .iter()
                .any(|b| b.detail.starts_with("views.lessons")),
            "a banner names the part"
        );
    }

    #[test]
    fn lessons_step_and_rewrite_the_migration() {
        let s = lesson_at(1, 100);
        assert_eq!(s.session.cursor(), s.session.steps().len());
        assert_eq!(last_verdict(&s), Some("silently-broken"));
        let back = s.clone().apply(Msg::LessonStep(-3));
        assert_eq!(back.session.cursor(), s.session.cursor() - 3);
        // The 2/4 chapter under each policy.
        let s = lesson_at(2, 100);
        let kernel = last_verdict(&s);
        let any = s.apply(Msg::SetLessonPolicy(Some(RestorePolicy::AcceptAny)));
        assert_ne!(last_verdict(&any), kernel, "accept-any changes the verdict");
        let old = any.apply(Msg::SetLessonKernel(Some("4.19".into())));
        assert!(last_verdict(&old).is_some());
        assert_eq!(old.lesson.as_ref().unwrap().kernel.as_deref(), Some("4.19"));
    }
}

/// The invariant of links (README "Permalinks"): every state the app can reach
/// makes a link that the app opens to the same state. Random message sequences,
/// natively (proptest is a native dev-dependency; the wasm32 tests run in the browser).
#[cfg(all(test, not(target_arch = "wasm32")))]
mod link_invariant {
    use super::*;
    use crate::explore::MigrateFix;
    use gicx_core::permalink::{decode, encode};
    use proptest::prelude::*;

    fn text(choices: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop_oneof![
            4 => proptest::sample::select(choices).prop_map(str::to_string),
            1 => "\\PC{0,12}",
        ]
    }

    fn msg() -> impl Strategy<Value = Msg> {
        let n = CATALOGUE.len();
        let policy = proptest::sample::select(RestorePolicy::ALL.to_vec());
        let guest = proptest::sample::select(GuestProfile::ALL.to_vec());
        prop_oneof![
            // Registers and Poke.
            proptest::sample::select(View::ALL.to_vec()).prop_map(Msg::Show),
            proptest::sample::select(vec![
                Journey::Learn,
                Journey::LookUp,
                Journey::CheckMigration
            ])
            .prop_map(Msg::Begin),
            text(&["typer", "0x104", "IROUTER", ""]).prop_map(Msg::Search),
            (0..n).prop_map(Msg::Select),
            (0..40u32).prop_map(Msg::SetInstance),
            (0..6u32).prop_map(Msg::SetVcpu),
            text(&["0x100", "7", "0b11"]).prop_map(Msg::SetValue),
            (0..64u8).prop_map(Msg::ToggleBit),
            prop_oneof![Just(Actor::Guest), Just(Actor::Vmm)].prop_map(Msg::SetActor),
            proptest::sample::select(vec![8u8, 16, 32, 64]).prop_map(Msg::SetWidth),
            (0..4u32).prop_map(Msg::SetAt),
            text(&["0x1", "0xffffffff", "1"]).prop_map(Msg::SetPokeValue),
            prop_oneof![Just(Access::Read), Just(Access::Write), Just(Access::Has)]
                .prop_map(Msg::Poke),
            prop_oneof![Just(Access::Read), Just(Access::Write)].prop_map(Msg::Poke),
            prop_oneof![Just(Lifecycle::Init), Just(Lifecycle::Run)].prop_map(Msg::Lifecycle),
            prop_oneof![Just(Lifecycle::Init), Just(Lifecycle::Run)].prop_map(Msg::Lifecycle),
            // Log.
            Just(Msg::Undo),
            Just(Msg::Redo),
            (0..12usize).prop_map(Msg::Seek),
            // Host and VM.
            proptest::sample::select(GicHw::ALL.to_vec()).prop_map(Msg::SetGic),
            any::<bool>().prop_map(Msg::SetCpuifVsgi),
            any::<bool>().prop_map(Msg::SetV4Enable),
            text(&["5.7", "6.17", "5.15", "4.1"]).prop_map(Msg::SetKernel),
            text(&["1", "2", "4", "0"]).prop_map(Msg::SetVcpus),
            proptest::sample::select(vec![64u32, 128, 256, 288, 1024]).prop_map(Msg::SetNrIrqs),
            any::<bool>().prop_map(Msg::SetIts),
            (0..PRESETS.len()).prop_map(Msg::Preset),
            // Migrate.
            text(&["v4.0@6.17", "v4.0@5.7", "v3@6.8", "v4.1@5.7"]).prop_map(Msg::SetMigrateTo),
            (0..RECIPES.len()).prop_map(Msg::SetMigrateVmm),
            policy.clone().prop_map(Msg::SetMigratePolicy),
            Just(Msg::Migrate),
            Just(Msg::Migrate),
            prop_oneof![
                Just(MigrateFix::InitRun),
                any::<bool>().prop_map(MigrateFix::Its),
                proptest::sample::select(vec![128u32, 256, 288]).prop_map(MigrateFix::NrIrqs),
                guest.clone().prop_map(MigrateFix::Prepare),
            ]
            .prop_map(Msg::MigrateFix),
            Just(Msg::BringBack),
            // Matrix (the tables themselves are not computed: 2 × 1 225 migrations).
            (0..RECIPES.len()).prop_map(Msg::SetMatrixVmm),
            guest.prop_map(Msg::SetMatrixGuest),
            (0..2usize, policy).prop_map(|(t, p)| Msg::SetMatrixPolicy(t, p)),
            (0..2usize, 0..35usize, 0..35usize).prop_map(|(t, f, d)| Msg::OpenCell(t, f, d)),
            Just(Msg::OpenCellInMigrate),
            Just(Msg::CloseCell),
            proptest::option::of(proptest::sample::select(crate::explore::SET_ASIDE.to_vec()))
                .prop_map(Msg::SetMatrixAside),
            // Delivery path.
            (0..4u32).prop_map(Msg::SetSgiFrom),
            text(&["1", "15", "16"]).prop_map(Msg::SetSgiIntid),
            text(&["1", "0, 1", "3", "9"]).prop_map(Msg::SetSgiTargets),
            Just(Msg::SendSgi),
            text(&["32", "40", "300"]).prop_map(Msg::SetSpiIntid),
            any::<bool>().prop_map(Msg::SetSpiLevel),
            Just(Msg::RaiseSpi),
            // Lessons.
            (0..LESSONS.len()).prop_map(Msg::OpenLesson),
            (-3..4isize).prop_map(Msg::LessonStep),
            proptest::option::of(proptest::sample::select(RestorePolicy::ALL.to_vec()))
                .prop_map(Msg::SetLessonPolicy),
            proptest::option::of(proptest::sample::select(
                crate::explore::LESSON_KERNELS.to_vec()
            ))
            .prop_map(|k| Msg::SetLessonKernel(k.map(str::to_string))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn every_reachable_state_links_to_itself(msgs in proptest::collection::vec(msg(), 1..32)) {
            let mut s = AppState::default();
            for m in msgs {
                s = s.apply(m);
            }
            let link = s.permalink();
            let text = encode(&link);
            let back = decode(&text);
            prop_assert!(back.is_ok(), "the app refuses its own link: {:?}", back.err());
            let r = AppState::restore(back.unwrap(), None);
            prop_assert_eq!(&r.permalink(), &link);
            prop_assert_eq!(r.session.cursor(), s.session.cursor());
            prop_assert_eq!(r.session.vgic().state(), s.session.vgic().state());
            prop_assert_eq!(&r.migrate_form, &s.migrate_form);
            prop_assert!(r.banners.is_empty(), "{:?}", r.banners);
        }
    }
}
