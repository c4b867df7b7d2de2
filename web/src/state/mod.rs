//! The explorer's state and the messages that change it: plain Rust, no DOM,
//! so every behaviour of the views is unit-tested natively.
//!
//! The state ([`AppState`]) is what every view works on ([`Work`]: the
//! session being explored, its lesson, the selected vCPU, the last result, the
//! banners) plus one state per view, each with its own messages and `apply`:
//! [`registers`], [`poke`], [`log`], [`host`], [`migrate`], [`matrix`],
//! [`delivery`], [`lessons`] and [`share`]. A message is [`Msg`], nesting the
//! view's own (`Msg::Matrix(MatrixMsg::SetVmm(2))`); [`AppState::apply`] hands
//! it to that view and does itself only what crosses views (navigation, links,
//! the landing's ways in, opening a Matrix cell in Migrate).
//!
//! The reducer is pure: it reads no clock, holds no shared cell, and runs no
//! heavy work. The Matrix tables and the audit are computed by effects in
//! `components::app` and come back as messages ([`matrix::MatrixMsg::Tables`],
//! [`matrix::MatrixMsg::AuditProgress`]). [`AppState::permalink`] and
//! [`AppState::restore`] turn the state into a link and back
//! (`gicx_core::permalink`, each view's part a serde struct: [`crate::view_link`]).

pub mod delivery;
pub mod host;
pub mod its;
pub mod lessons;
pub mod log;
pub mod matrix;
pub mod migrate;
pub mod poke;
pub mod registers;
pub mod share;
pub mod work;

use gicx_core::catalogue::{lookup, RegRef, RegisterDesc, CATALOGUE};
use gicx_core::guest::GuestProfile;
use gicx_core::migrate::source_scenario;
use gicx_core::permalink::{Embed, Permalink, MAX_TEXT_CHARS};
use gicx_core::vmm::RECIPES;

use crate::explore::{LessonState, MatrixForm, MatrixLink, MigrateFix, MigrateForm};
use crate::host_form::HostForm;
use crate::poke::PokeForm;
use crate::session::Session;
use crate::value::ValueError;
use crate::view::View;

pub use delivery::{DeliveryMsg, DeliveryState};
pub use host::HostMsg;
pub use its::{ItsForm, ItsMsg, ItsViewState};
pub use lessons::LessonsMsg;
pub use log::{LogMsg, LogState};
pub use matrix::{MatrixMsg, MatrixRequest};
pub use migrate::{MigrateMsg, MigrateState};
pub use poke::{Lifecycle, PokeMsg};
pub use registers::{
    changed_positions, field_rows, matches, near_miss, register_link, register_route, rule_route,
    tested_value, FieldRow, RegistersMsg, RegistersState, Step, LANDING_REGISTER,
};
pub use share::{Share, ShareMsg, ShareState, Theme};
pub use work::{Banner, Banners, PokeResult, Replaced, Work};

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

/// Everything a person can do: app-wide messages, and each view's own.
#[derive(Clone, Debug)]
pub enum Msg {
    // ---- navigation and links
    Show(View),
    /// One of the landing's three ways in.
    Begin(Journey),
    /// Select a register (catalogue position) and show it in the Registers view.
    ShowRegister(usize),
    /// A register's human link (`#reg/GICD_TYPER2`), typed or followed.
    OpenRegisterLink(String),
    /// A rule's link (`#rule/lifecycle.vm_dead`): the Rules view, that rule marked.
    OpenRuleLink(String),
    /// The vCPU whose redistributor is shown and who accesses the distributor
    /// (Registers, Poke).
    SetVcpu(u32),
    /// Go back to the session a lesson or a prepared VM replaced.
    BringBack,
    /// The open Matrix cell as a session: its source VM (the VMM's, booted by the
    /// Matrix's guest profile) migrated in the Migrate view with the cell's policy.
    OpenCellInMigrate,
    // ---- each view's own
    Registers(RegistersMsg),
    Poke(PokeMsg),
    Log(LogMsg),
    Host(HostMsg),
    Migrate(MigrateMsg),
    Matrix(MatrixMsg),
    Delivery(DeliveryMsg),
    Its(ItsMsg),
    Lessons(LessonsMsg),
    Share(ShareMsg),
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

/// The Rules view as a link carries it (`views.rules`): `{"rule": "lifecycle.vm_dead"}`
/// (links made before it held the id as a bare string, still read).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesLink {
    pub rule: String,
}

/// The parts of the state a link carries, cheap to compare: the URL and the
/// saved state are rewritten only when this changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkKey {
    revision: u64,
    view: View,
    registers: RegistersState,
    vcpu: u32,
    poke: PokeForm,
    lesson: Option<LessonState>,
    matrix: MatrixLink,
    migrate: MigrateForm,
    its: ItsForm,
    rule: Option<String>,
}

/// The explorer's whole state.
#[derive(Clone, Debug)]
pub struct AppState {
    /// What every view works on.
    pub work: Work,
    pub view: View,
    /// Shown embedded in another page, and how.
    pub embed: Option<Embed>,
    pub theme: Theme,
    pub share: ShareState,
    pub registers: RegistersState,
    pub poke: PokeForm,
    pub log: LogState,
    pub host: HostForm,
    pub migrate: MigrateState,
    pub matrix: MatrixForm,
    pub delivery: DeliveryState,
    pub its: ItsViewState,
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
            host: HostForm::showing(session.host(), session.vm()),
            work: Work {
                session,
                ..Work::default()
            },
            view: View::default(),
            embed: None,
            theme: Theme::System,
            share: ShareState::default(),
            registers: RegistersState::default(),
            poke: PokeForm::default(),
            log: LogState::default(),
            migrate: MigrateState::default(),
            matrix: MatrixForm::default(),
            delivery: DeliveryState::default(),
            its: ItsViewState::default(),
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
                Msg::Dismiss(_)
                    | Msg::Problem { .. }
                    | Msg::Restore(..)
                    | Msg::Matrix(MatrixMsg::Tables(..))
            )
        {
            return self;
        }
        let work = &mut self.work;
        match msg {
            Msg::Show(view) => self.view = view,
            Msg::Begin(journey) => self.begin(journey),
            Msg::ShowRegister(position) => {
                self.registers.select(position, work);
                self.view = View::Registers;
            }
            Msg::OpenRuleLink(fragment) => match rule_route(&fragment) {
                Some(Ok(id)) => {
                    self.rule = Some(id.to_string());
                    self.view = View::Rules;
                }
                Some(Err(e)) => work.banners.add("This rule link could not be opened", e),
                None => {}
            },
            Msg::OpenRegisterLink(fragment) => match register_route(&fragment) {
                Some(Ok((position, index))) => {
                    self.registers.open(position, index, work);
                    self.view = View::Registers;
                }
                Some(Err(e)) => work.banners.add(
                    "This register link could not be opened",
                    format!("{e}. You are still seeing your last work."),
                ),
                None => {}
            },
            Msg::SetVcpu(v) => work.vcpu = v.min(work.session.vm().vcpus - 1),
            Msg::BringBack => {
                work.bring_back();
                self.migrate.block = None;
                self.migrate.error = None;
                self.delivery.error = None;
                self.its.error = None;
            }
            Msg::OpenCellInMigrate => self.open_cell_in_migrate(),
            Msg::Registers(m) => self.registers.apply(m, work),
            Msg::Poke(m) => {
                let reg = self.registers.selected_instance();
                self.poke.apply(m, reg, work)
            }
            Msg::Log(m) => self.log.apply(m, work),
            Msg::Host(m) => {
                let vm = work.session.vm();
                self.host.apply(m, work);
                if work.session.vm() != vm {
                    self.migrate.block = None;
                }
            }
            Msg::Migrate(m) => self.migrate.apply(m, work, &mut self.host),
            Msg::Matrix(m) => self.matrix.apply(m),
            Msg::Delivery(m) => self.delivery.apply(m, work),
            Msg::Its(m) => {
                let vm = work.session.vm();
                self.its.apply(m, work);
                if work.session.vm() != vm {
                    self.host = HostForm::showing(work.session.host(), work.session.vm());
                    self.migrate.block = None;
                }
            }
            Msg::Lessons(m) => lessons::apply(work, m),
            Msg::Share(m) => self.share.apply(m),
            Msg::Restore(link, embed) => {
                let (theme, banners) = (self.theme, std::mem::take(&mut self.work.banners));
                self = AppState::restore(*link, embed);
                self.theme = theme;
                // Keep earlier problems on screen; the restore's own come after.
                let own = std::mem::replace(&mut self.work.banners, banners);
                for b in own.list() {
                    self.work.banners.add(b.title.clone(), b.detail.clone());
                }
            }
            Msg::Problem { title, detail } => work.banners.add(title, detail),
            Msg::Dismiss(id) => work.banners.dismiss(id),
            Msg::SetTheme(t) => self.theme = t,
            Msg::DebugPanic => panic!("deliberate panic requested by #debug/panic"),
        }
        // A view replaced the session (a lesson, a file, a prepared VM): the
        // Host and VM form shows the new one.
        if std::mem::take(&mut self.work.session_replaced) {
            self.host = HostForm::showing(self.work.session.host(), self.work.session.vm());
        }
        self
    }

    /// Show a problem in a banner.
    pub fn problem(&mut self, title: impl Into<String>, detail: impl Into<String>) {
        self.work.banners.add(title, detail);
    }

    /// Whether the landing shows: a fresh start (no step, nothing selected) on
    /// the Registers view, in the full app.
    pub fn landing(&self) -> bool {
        self.embed.is_none()
            && self.view == View::Registers
            && self.registers.selected.is_none()
            && self.work.session.steps().is_empty()
            && self.work.replaced.is_none()
    }

    fn begin(&mut self, journey: Journey) {
        match journey {
            Journey::Learn => {
                lessons::open(&mut self.work, 0);
                self.view = View::Lessons;
            }
            Journey::LookUp => {
                if let Some(p) = CATALOGUE
                    .iter()
                    .position(|r| r.pattern() == LANDING_REGISTER)
                {
                    self.registers.select(p, &self.work);
                }
                self.view = View::Registers;
            }
            Journey::CheckMigration => {
                self.view = View::Migrate;
                self.migrate.apply(
                    MigrateMsg::Fix(MigrateFix::Prepare(GuestProfile::Linux)),
                    &mut self.work,
                    &mut self.host,
                );
            }
        }
    }

    /// The open Matrix cell, in the Migrate view: its source VM as a session, the
    /// form set to the cell's destination, VMM and policy, migrated.
    fn open_cell_in_migrate(&mut self) {
        let Some((t, from, to)) = self.matrix.cell else {
            return;
        };
        let recipe = &RECIPES[self.matrix.vmm];
        self.work
            .prepare(source_scenario(from, recipe, self.matrix.guest));
        self.migrate.form = MigrateForm {
            to: to.compact(),
            vmm: self.matrix.vmm,
            policy: self.matrix.policies[t.min(1)],
        };
        self.view = View::Migrate;
        self.migrate.migrate(&mut self.work);
    }

    /// What the Matrix view needs computed and does not have: `App` computes
    /// the tables for this request once the page has painted and sends
    /// [`MatrixMsg::Tables`] (two tables of every source × destination
    /// migration take a good part of a second in the browser, which a tab
    /// click or a link landing on the view should not wait for).
    pub fn matrix_pending(&self) -> Option<MatrixRequest> {
        (self.view == View::Matrix && self.matrix.tables.is_none()).then(|| self.matrix.request())
    }

    // ---- links -----------------------------------------------------------------

    /// The state as a link carries it.
    pub fn permalink(&self) -> Permalink {
        let session = &self.work.session;
        let mut link = Permalink::new(session.scenario(true));
        link.cursor = Some(session.cursor());
        link.view = self.view.id().to_string();
        link.register = self.selected_instance().map(|r| r.name());
        link.vcpu = self.work.vcpu;
        link.value = self.registers.value.clone();
        link.query = self.registers.query.clone();
        let mut put = |view: View, state| {
            link.views.insert(view.id().to_string(), state);
        };
        if self.poke != PokeForm::default() {
            put(View::Poke, self.poke.link());
        }
        if let Some(l) = &self.work.lesson {
            put(View::Lessons, l.link());
        }
        if let Some(r) = &self.rule {
            put(
                View::Rules,
                crate::view_link::write(&RulesLink { rule: r.clone() }),
            );
        }
        if self.migrate.form != MigrateForm::default() {
            put(View::Migrate, self.migrate.form.link());
        }
        if let Some(its) = self.its.link() {
            put(View::Its, its);
        }
        let matrix = self.matrix.link();
        if matrix != MatrixForm::default().link() {
            put(View::Matrix, matrix.to_json());
        }
        link
    }

    /// The key that changes whenever [`AppState::permalink`] would.
    pub fn link_key(&self) -> LinkKey {
        LinkKey {
            revision: self.work.session.revision(),
            view: self.view,
            registers: self.registers.clone(),
            vcpu: self.work.vcpu,
            poke: self.poke.clone(),
            lesson: self.work.lesson.clone(),
            matrix: self.matrix.link(),
            migrate: self.migrate.form.clone(),
            its: self.its.form.clone(),
            rule: self.rule.clone(),
        }
    }

    /// The state a (decoded, hence validated) link describes. Parts this
    /// version of the app does not know (a view id, a view's state) become
    /// banners naming the part; the rest is restored.
    pub fn restore(link: Permalink, embed: Option<Embed>) -> AppState {
        let cursor = link.applied();
        let mut s = AppState::with_session(Session::new(link.scenario, cursor));
        s.embed = embed;
        let not_understood = "Part of the link was not understood";
        s.view = match link.view.as_str() {
            "" => View::default(),
            id => View::from_id(id).unwrap_or_else(|| {
                s.problem(
                    not_understood,
                    format!("view: {id:?} is not a view of this gicx; showing Registers"),
                );
                View::default()
            }),
        };
        if let Some(Ok(reg)) = link.register.as_deref().map(lookup) {
            s.registers.selected = Some(reg.desc.pattern());
            s.registers.instance = reg.index;
        }
        s.work.vcpu = link.vcpu.min(s.work.session.vm().vcpus - 1);
        s.registers.value = link.value;
        s.registers.query = link.query;
        if let Some(v) = link.views.get(View::Poke.id()) {
            match PokeForm::from_link(v) {
                Ok(f) => s.poke = f,
                Err(e) => s.problem(
                    not_understood,
                    format!("views.poke: {e}; the Poke form is reset"),
                ),
            }
        }
        if let Some(v) = link.views.get(View::Rules.id()) {
            let rule =
                crate::view_link::read(v, |l: RulesLink| Ok(l.rule), |old| Ok(old.to_string()))
                    .and_then(|id| {
                        gicx_core::rules::by_id(&id)
                            .map(|r| r.id.to_string())
                            .ok_or_else(|| format!("there is no rule {id:?}"))
                    });
            match rule {
                Ok(id) => s.rule = Some(id),
                Err(e) => s.problem(
                    not_understood,
                    format!("views.rules: {e}; no rule is marked"),
                ),
            }
        }
        if let Some(v) = link.views.get(View::Lessons.id()) {
            // The link's scenario already is the lesson (with its rewrites):
            // only the lesson's identity and selectors come back here.
            match LessonState::from_link(v) {
                Ok(l) => s.work.lesson = Some(l),
                Err(e) => s.problem(
                    not_understood,
                    format!("views.lessons: {e}; no lesson is open"),
                ),
            }
        }
        if let Some(v) = link.views.get(View::Migrate.id()) {
            match MigrateForm::from_link(v) {
                Ok(f) => s.migrate.form = f,
                Err(e) => s.problem(
                    not_understood,
                    format!("views.migrate: {e}; the Migrate form is reset"),
                ),
            }
        }
        if let Some(v) = link.views.get(View::Its.id()) {
            match ItsViewState::from_link(v) {
                Ok(f) => s.its.form = f,
                Err(e) => s.problem(
                    not_understood,
                    format!("views.its: {e}; the ITS forms are reset"),
                ),
            }
        }
        if let Some(v) = link.views.get(View::Matrix.id()) {
            match MatrixLink::from_json(v) {
                Ok(m) => {
                    s.matrix.vmm = m.vmm;
                    s.matrix.guest = m.guest;
                    s.matrix.policies = m.policies;
                    s.matrix.cell = m.cell.map(|(t, from, to)| (t.min(1), from, to));
                    s.matrix.aside = m.aside;
                }
                Err(e) => s.problem(
                    not_understood,
                    format!("views.matrix: {e}; the Matrix form is reset"),
                ),
            }
        }
        s.work.note_stopped();
        s
    }

    // ---- embedding ----------------------------------------------------------------

    /// A title that says what an embed of the current view shows (the `<iframe>`'s
    /// `title`, for screen readers and the page's own outline).
    pub fn embed_title(&self) -> String {
        let session = &self.work.session;
        let host = session.host().compact();
        let what = match self.view {
            View::Registers | View::Poke => match self.selected_instance() {
                Some(r) => format!("{} on a {host} host", r.name()),
                None => format!("the register catalogue on a {host} host"),
            },
            View::Log => match &session.name {
                Some(n) => n.clone(),
                None => format!("{} steps on a {host} host", session.cursor()),
            },
            View::Host => format!("the host {host} and its VM"),
            View::Migrate => match session
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
            View::Its => format!("KVM's emulated ITS on a {host} host"),
            View::Lessons => match &self.work.lesson {
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
            View::Registers | View::Poke if self.registers.selected.is_some() => 660,
            View::Matrix if self.matrix.cell.is_some() => 520,
            View::Matrix | View::Migrate => 720,
            View::Lessons | View::Log | View::Delivery | View::Its => 560,
            _ => 480,
        }
    }

    // ---- what the views show ------------------------------------------------------

    /// Positions in [`CATALOGUE`] of the families the search matches.
    pub fn matches(&self) -> Vec<usize> {
        self.registers.matches()
    }

    /// Position in [`CATALOGUE`] of the selected family.
    pub fn selected_position(&self) -> Option<usize> {
        self.registers.selected_position()
    }

    pub fn selected_register(&self) -> Option<&'static RegisterDesc> {
        self.registers.selected_register()
    }

    /// The selected register instance, e.g. `GICD_ISENABLER1`.
    pub fn selected_instance(&self) -> Option<RegRef> {
        self.registers.selected_instance()
    }

    /// The tested value: `None` while the box is empty.
    pub fn tested_value(&self) -> Option<Result<u64, ValueError>> {
        self.registers.tested_value()
    }

    /// The fields of the selected instance, decoded from the tested value.
    pub fn field_rows(&self) -> Vec<FieldRow> {
        self.registers.field_rows()
    }

    /// Catalogue positions of the registers the last poke changed.
    pub fn changed_positions(&self) -> Vec<usize> {
        changed_positions(self.work.last.as_deref())
    }
}

/// Typed text is kept to what a link can carry ([`MAX_TEXT_CHARS`]), so the
/// state always encodes to a link that decodes again.
pub(crate) fn clip(mut text: String) -> String {
    if let Some((i, _)) = text.char_indices().nth(MAX_TEXT_CHARS) {
        text.truncate(i);
    }
    text
}

/// What `App`'s effect does for the Matrix view, for tests: compute the tables
/// the form asks for and send them.
#[cfg(test)]
impl AppState {
    pub(crate) fn computed(self) -> AppState {
        if self.matrix.tables.is_some() {
            return self;
        }
        let req = self.matrix.request();
        let tables = matrix::compute_tables(&req);
        self.apply(Msg::Matrix(MatrixMsg::Tables(req, tables)))
    }
}

/// Helpers of the reducer's tests (each view's file tests its messages through
/// [`AppState::apply`], as the app sends them).
#[cfg(test)]
pub(crate) mod support {
    pub(crate) use crate::explore::{AuditRun, MatrixForm, MigrateFix};
    pub(crate) use crate::poke::{Access, Actor};
    pub(crate) use crate::session::Done;
    pub(crate) use crate::state::*;
    pub(crate) use crate::view::View;
    pub(crate) use gicx_core::catalogue::CATALOGUE;
    pub(crate) use gicx_core::guest::GuestProfile;
    pub(crate) use gicx_core::host::GicHw;
    pub(crate) use gicx_core::permalink::{decode as decode_link, encode, Embed};
    pub(crate) use gicx_core::vgic::RestorePolicy;
    pub(crate) use gicx_core::vmm::RECIPES;

    pub(crate) fn position(pattern: &str) -> usize {
        CATALOGUE
            .iter()
            .position(|r| r.pattern() == pattern)
            .unwrap()
    }

    pub(crate) fn names(state: &AppState) -> Vec<String> {
        state
            .matches()
            .into_iter()
            .map(|p| CATALOGUE[p].pattern())
            .collect()
    }

    pub(crate) fn searched(query: &str) -> AppState {
        AppState::default().apply(Msg::Registers(RegistersMsg::Search(query.into())))
    }

    pub(crate) fn selected(pattern: &str) -> AppState {
        AppState::default().apply(Msg::Registers(RegistersMsg::Select(position(pattern))))
    }

    pub(crate) fn done(s: &AppState) -> &Done {
        match s.work.last.as_deref() {
            Some(PokeResult::Done(d)) => d,
            other => panic!("expected a done poke, got {other:?}"),
        }
    }

    pub(crate) fn refused(s: &AppState) -> String {
        match s.work.last.as_deref() {
            Some(PokeResult::Refused { reason, .. }) => reason.clone(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    pub(crate) fn worked() -> AppState {
        selected("GICD_IPRIORITYR<n>")
            .apply(Msg::Registers(RegistersMsg::SetInstance(9)))
            .apply(Msg::SetVcpu(2))
            .apply(Msg::Registers(RegistersMsg::SetValue("0xa0a0".into())))
            .apply(Msg::Registers(RegistersMsg::Search("prio".into())))
            .apply(Msg::Host(HostMsg::SetKernel("5.15".into())))
            .apply(Msg::Poke(PokeMsg::Lifecycle(Lifecycle::Init)))
            .apply(Msg::Poke(PokeMsg::Lifecycle(Lifecycle::Run)))
            .apply(Msg::Poke(PokeMsg::SetWidth(8)))
            .apply(Msg::Poke(PokeMsg::SetAt(2)))
            .apply(Msg::Poke(PokeMsg::SetValue("0x80".into())))
            .apply(Msg::Poke(PokeMsg::Do(Access::Write)))
            .apply(Msg::Log(LogMsg::Undo))
            .apply(Msg::Show(View::Poke))
    }

    pub(crate) fn lesson_at(i: usize, steps: isize) -> AppState {
        AppState::default()
            .apply(Msg::Lessons(LessonsMsg::Open(i)))
            .apply(Msg::Lessons(LessonsMsg::Step(steps)))
    }

    pub(crate) fn last_verdict(s: &AppState) -> Option<&'static str> {
        s.work
            .session
            .replay()
            .reports
            .iter()
            .rev()
            .find_map(|r| r.migration.as_ref().map(|m| m.verdict.as_str()))
    }

    pub(crate) fn migration(s: &AppState) -> &gicx_core::migrate::Migration {
        s.work
            .session
            .replay()
            .reports
            .last()
            .and_then(|r| r.migration.as_deref())
            .expect("the last step is a migration")
    }

    pub(crate) fn round_trips(s: &AppState) {
        let back = decode_link(&encode(&s.permalink())).expect("the app opens its own link");
        assert_eq!(AppState::restore(back, None).permalink(), s.permalink());
    }
}

#[cfg(test)]
mod tests {
    use super::support::*;

    #[test]
    fn the_landing_shows_on_a_fresh_start_and_its_three_ways_in_lead_somewhere() {
        assert!(AppState::default().landing());
        let learn = AppState::default().apply(Msg::Begin(Journey::Learn));
        assert_eq!(learn.view, View::Lessons);
        assert_eq!(learn.work.lesson.as_ref().map(|l| l.index), Some(0));
        assert!(!learn.work.session.steps().is_empty() && !learn.landing());
        let look = AppState::default().apply(Msg::Begin(Journey::LookUp));
        assert_eq!(look.registers.selected.as_deref(), Some(LANDING_REGISTER));
        assert!(!look.landing());
        let check = AppState::default().apply(Msg::Begin(Journey::CheckMigration));
        assert_eq!(check.view, View::Migrate);
        assert!(check.migrate.block.is_none(), "{:?}", check.migrate.block);
        assert_eq!(
            check.work.session.last_applied().map(|s| s.op()),
            Some("migrate"),
            "the prepared VM is migrated"
        );
    }

    #[test]
    fn rule_links_open_the_rules_view_on_that_rule_and_travel_in_links() {
        let s = AppState::default().apply(Msg::OpenRuleLink("#rule/lifecycle.vm_dead".into()));
        assert_eq!(
            (s.view, s.rule.as_deref()),
            (View::Rules, Some("lifecycle.vm_dead"))
        );
        round_trips(&s);
        let link = s.permalink();
        assert_eq!(
            link.views.get("rules"),
            Some(&serde_json::json!({"rule": "lifecycle.vm_dead"}))
        );
        // Links made before the serde structs held the bare id.
        let mut old = link.clone();
        old.views.insert("rules".into(), "lifecycle.vm_dead".into());
        let back = AppState::restore(old, None);
        assert_eq!(back.rule.as_deref(), Some("lifecycle.vm_dead"));
        assert!(back.work.banners.list().is_empty());
        let mut unknown = link;
        unknown
            .views
            .insert("rules".into(), serde_json::json!({"rule": "nope"}));
        let back = AppState::restore(unknown, None);
        assert!(back.rule.is_none());
        assert!(back.work.banners.list()[0]
            .detail
            .starts_with("views.rules: there is no rule"));
        let bad = AppState::default().apply(Msg::OpenRuleLink("#rule/nope".into()));
        assert!(bad.rule.is_none() && !bad.work.banners.list().is_empty());
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
            (
                r.work.vcpu,
                r.registers.value.as_str(),
                r.registers.query.as_str()
            ),
            (2, "0xa0a0", "prio")
        );
        assert_eq!(
            (r.work.session.cursor(), r.work.session.steps().len()),
            (2, 3)
        );
        assert_eq!(r.poke, s.poke);
        assert_eq!(r.host.kernel, "5.15");
        assert!(r.work.banners.list().is_empty());
        // Redo after the restore does what redo did before it.
        let (a, b) = (
            s.apply(Msg::Log(LogMsg::Redo)),
            r.apply(Msg::Log(LogMsg::Redo)),
        );
        assert_eq!(
            a.work.session.vgic().state(),
            b.work.session.vgic().state(),
            "the same VM after redo"
        );
    }

    #[test]
    fn typed_text_is_kept_linkable() {
        let long = "é".repeat(MAX_TEXT_CHARS + 10);
        let s = selected("GICD_CTLR")
            .apply(Msg::Registers(RegistersMsg::SetValue(long.clone())))
            .apply(Msg::Registers(RegistersMsg::Search(long.clone())))
            .apply(Msg::Poke(PokeMsg::SetValue(long)));
        assert_eq!(s.registers.value.chars().count(), MAX_TEXT_CHARS);
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
        let details: Vec<&str> = r
            .work
            .banners
            .list()
            .iter()
            .map(|b| b.detail.as_str())
            .collect();
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
        assert_eq!(
            s.clone()
                .apply(Msg::Registers(RegistersMsg::Search("prio".into())))
                .link_key(),
            k
        );
        for msg in [
            Msg::Log(LogMsg::Redo),
            Msg::Show(View::Log),
            Msg::Registers(RegistersMsg::SetValue("1".into())),
            Msg::SetVcpu(0),
            Msg::Poke(PokeMsg::SetWidth(32)),
            Msg::Host(HostMsg::SetKernel("6.8".into())),
            Msg::Registers(RegistersMsg::Search("x".into())),
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
            .apply(Msg::Log(LogMsg::Undo))
            .apply(Msg::Registers(RegistersMsg::SetValue("7".into())))
            .apply(Msg::Show(View::Log));
        assert_eq!(s.link_key(), key);
        let s = s.apply(Msg::Problem {
            title: "t".into(),
            detail: "d".into(),
        });
        assert_eq!(s.work.banners.list().len(), 1, "problems are still shown");
    }

    #[test]
    fn banners_are_shown_once_and_dismissed() {
        let p = || Msg::Problem {
            title: "Bad link".into(),
            detail: "version: missing".into(),
        };
        let s = AppState::default().apply(p()).apply(p());
        assert_eq!(s.work.banners.list().len(), 1);
        let id = s.work.banners.list()[0].id;
        assert!(s.apply(Msg::Dismiss(id)).work.banners.list().is_empty());
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
        assert_eq!(s.work.banners.list().len(), 1);
        assert_eq!(s.work.session.cursor(), 2);
    }

    #[test]
    fn a_matrix_cell_opens_in_migrate_with_the_same_verdict() {
        let hosts = gicx_core::audit::audit_hosts();
        let mut s = AppState::default()
            .apply(Msg::Matrix(MatrixMsg::SetVmm(
                crate::explore::recipe_index("qemu"),
            )))
            .apply(Msg::Show(View::Matrix));
        for (t, from, to) in [
            (0, "v4.1@5.7", "v4.0@5.7"),
            (1, "v4.1@6.17", "v4.0@6.17"),
            (0, "v3@6.8", "v4.1@6.17"),
        ] {
            let f = hosts.iter().position(|h| h.compact() == from).unwrap();
            let d = hosts.iter().position(|h| h.compact() == to).unwrap();
            s = s.apply(Msg::Matrix(MatrixMsg::OpenCell(t, f, d)));
            let cell = match s.matrix.detail.as_deref() {
                Some(Ok(m)) => m.verdict,
                other => panic!("{other:?}"),
            };
            let opened = s.clone().apply(Msg::OpenCellInMigrate);
            assert_eq!(opened.view, View::Migrate);
            assert_eq!(opened.migrate.block, None);
            let m = migration(&opened);
            assert_eq!((m.from.as_str(), m.to.as_str()), (from, to));
            assert_eq!(m.verdict, cell, "{from} -> {to}, table {t}");
            round_trips(&opened);
        }
    }
}

/// The invariant of links (README "Permalinks"): every state the app can reach
/// makes a link that the app opens to the same state. Random message sequences,
/// natively (proptest is a native dev-dependency; the wasm32 tests run in the browser).
#[cfg(all(test, not(target_arch = "wasm32")))]
mod link_invariant {
    use super::*;
    use crate::explore::{MigrateFix, LESSONS};
    use crate::host_form::PRESETS;
    use crate::poke::{Access, Actor};
    use gicx_core::host::GicHw;
    use gicx_core::permalink::{decode, encode};
    use gicx_core::vgic::RestorePolicy;
    use proptest::prelude::*;

    fn text(choices: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop_oneof![
            4 => proptest::sample::select(choices).prop_map(str::to_string),
            1 => "\\PC{0,12}",
        ]
    }

    fn msg() -> impl Strategy<Value = Msg> {
        let n = CATALOGUE.len();
        let hosts = gicx_core::audit::audit_hosts().len();
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
            text(&["typer", "0x104", "IROUTER", ""])
                .prop_map(|v| Msg::Registers(RegistersMsg::Search(v))),
            (0..n).prop_map(|v| Msg::Registers(RegistersMsg::Select(v))),
            (0..40u32).prop_map(|v| Msg::Registers(RegistersMsg::SetInstance(v))),
            (0..6u32).prop_map(Msg::SetVcpu),
            text(&["0x100", "7", "0b11"]).prop_map(|v| Msg::Registers(RegistersMsg::SetValue(v))),
            (0..64u8).prop_map(|v| Msg::Registers(RegistersMsg::ToggleBit(v))),
            prop_oneof![Just(Actor::Guest), Just(Actor::Vmm)]
                .prop_map(|v| Msg::Poke(PokeMsg::SetActor(v))),
            proptest::sample::select(vec![8u8, 16, 32, 64])
                .prop_map(|v| Msg::Poke(PokeMsg::SetWidth(v))),
            (0..4u32).prop_map(|v| Msg::Poke(PokeMsg::SetAt(v))),
            text(&["0x1", "0xffffffff", "1"]).prop_map(|v| Msg::Poke(PokeMsg::SetValue(v))),
            prop_oneof![Just(Access::Read), Just(Access::Write), Just(Access::Has)]
                .prop_map(|v| Msg::Poke(PokeMsg::Do(v))),
            prop_oneof![Just(Access::Read), Just(Access::Write)]
                .prop_map(|v| Msg::Poke(PokeMsg::Do(v))),
            prop_oneof![Just(Lifecycle::Init), Just(Lifecycle::Run)]
                .prop_map(|v| Msg::Poke(PokeMsg::Lifecycle(v))),
            prop_oneof![Just(Lifecycle::Init), Just(Lifecycle::Run)]
                .prop_map(|v| Msg::Poke(PokeMsg::Lifecycle(v))),
            // Log.
            Just(Msg::Log(LogMsg::Undo)),
            Just(Msg::Log(LogMsg::Redo)),
            (0..12usize).prop_map(|v| Msg::Log(LogMsg::Seek(v))),
            // Host and VM.
            proptest::sample::select(GicHw::ALL.to_vec())
                .prop_map(|v| Msg::Host(HostMsg::SetGic(v))),
            any::<bool>().prop_map(|v| Msg::Host(HostMsg::SetCpuifVsgi(v))),
            any::<bool>().prop_map(|v| Msg::Host(HostMsg::SetV4Enable(v))),
            text(&["5.7", "6.17", "5.15", "4.1"]).prop_map(|v| Msg::Host(HostMsg::SetKernel(v))),
            text(&["1", "2", "4", "0"]).prop_map(|v| Msg::Host(HostMsg::SetVcpus(v))),
            proptest::sample::select(vec![64u32, 128, 256, 288, 1024])
                .prop_map(|v| Msg::Host(HostMsg::SetNrIrqs(v))),
            any::<bool>().prop_map(|v| Msg::Host(HostMsg::SetIts(v))),
            (0..PRESETS.len()).prop_map(|v| Msg::Host(HostMsg::Preset(v))),
            // Migrate.
            text(&["v4.0@6.17", "v4.0@5.7", "v3@6.8", "v4.1@5.7"])
                .prop_map(|v| Msg::Migrate(MigrateMsg::SetTo(v))),
            (0..RECIPES.len()).prop_map(|v| Msg::Migrate(MigrateMsg::SetVmm(v))),
            policy
                .clone()
                .prop_map(|v| Msg::Migrate(MigrateMsg::SetPolicy(v))),
            Just(Msg::Migrate(MigrateMsg::Migrate)),
            Just(Msg::Migrate(MigrateMsg::Migrate)),
            prop_oneof![
                Just(MigrateFix::InitRun),
                any::<bool>().prop_map(MigrateFix::Its),
                proptest::sample::select(vec![128u32, 256, 288]).prop_map(MigrateFix::NrIrqs),
                guest.clone().prop_map(MigrateFix::Prepare),
            ]
            .prop_map(|v| Msg::Migrate(MigrateMsg::Fix(v))),
            Just(Msg::BringBack),
            // Matrix (the tables themselves are not computed: thousands of migrations).
            (0..RECIPES.len()).prop_map(|v| Msg::Matrix(MatrixMsg::SetVmm(v))),
            guest.prop_map(|v| Msg::Matrix(MatrixMsg::SetGuest(v))),
            (0..2usize, policy).prop_map(|(t, p)| Msg::Matrix(MatrixMsg::SetPolicy(t, p))),
            (0..2usize, 0..hosts, 0..hosts)
                .prop_map(|(t, f, d)| Msg::Matrix(MatrixMsg::OpenCell(t, f, d))),
            Just(Msg::OpenCellInMigrate),
            Just(Msg::Matrix(MatrixMsg::CloseCell)),
            proptest::option::of(proptest::sample::select(crate::explore::SET_ASIDE.to_vec()))
                .prop_map(|v| Msg::Matrix(MatrixMsg::SetAside(v))),
            // Delivery path.
            (0..4u32).prop_map(|v| Msg::Delivery(DeliveryMsg::SetFrom(v))),
            text(&["1", "15", "16"]).prop_map(|v| Msg::Delivery(DeliveryMsg::SetIntid(v))),
            text(&["1", "0, 1", "3", "9"]).prop_map(|v| Msg::Delivery(DeliveryMsg::SetTargets(v))),
            Just(Msg::Delivery(DeliveryMsg::SendSgi)),
            text(&["32", "40", "300"]).prop_map(|v| Msg::Delivery(DeliveryMsg::SetSpi(v))),
            any::<bool>().prop_map(|v| Msg::Delivery(DeliveryMsg::SetLevel(v))),
            Just(Msg::Delivery(DeliveryMsg::RaiseSpi)),
            text(&["3", "9", "x"]).prop_map(|v| Msg::Delivery(DeliveryMsg::SetMsiDevice(v))),
            text(&["2", "5", "40"]).prop_map(|v| Msg::Delivery(DeliveryMsg::SetMsiEvent(v))),
            Just(Msg::Delivery(DeliveryMsg::SendMsi)),
            // ITS.
            Just(Msg::Its(ItsMsg::AddIts)),
            Just(Msg::Its(ItsMsg::ProgramAsLinux)),
            proptest::sample::select(its::COMMANDS.to_vec())
                .prop_map(|v| Msg::Its(ItsMsg::SetCmd(v))),
            (
                proptest::sample::select(vec![
                    "device",
                    "event",
                    "intid",
                    "collection",
                    "target",
                    "eventid_bits",
                    "itt_addr",
                    "from",
                    "to"
                ]),
                text(&["0", "3", "8200", "0x50300000", "40"])
            )
                .prop_map(|(f, v)| Msg::Its(ItsMsg::SetField(f, v))),
            any::<bool>().prop_map(|v| Msg::Its(ItsMsg::SetValid(v))),
            Just(Msg::Its(ItsMsg::Queue)),
            Just(Msg::Its(ItsMsg::Queue)),
            text(&["0x50800008", "0x10"]).prop_map(|v| Msg::Its(ItsMsg::SetMemAddr(v))),
            proptest::sample::select(vec![8u8, 16, 32, 64])
                .prop_map(|v| Msg::Its(ItsMsg::SetMemWidth(v))),
            text(&["0xa1", "0x1ff"]).prop_map(|v| Msg::Its(ItsMsg::SetMemValue(v))),
            Just(Msg::Its(ItsMsg::WriteMem)),
            proptest::sample::select(its::WRITABLE.to_vec())
                .prop_map(|v| Msg::Its(ItsMsg::SetReg(v.to_string()))),
            text(&["1", "0", "0x8000000050000000"]).prop_map(|v| Msg::Its(ItsMsg::SetRegValue(v))),
            Just(Msg::Its(ItsMsg::WriteReg)),
            // Lessons.
            (0..LESSONS.len()).prop_map(|v| Msg::Lessons(LessonsMsg::Open(v))),
            (-3..4isize).prop_map(|v| Msg::Lessons(LessonsMsg::Step(v))),
            proptest::option::of(proptest::sample::select(RestorePolicy::ALL.to_vec()))
                .prop_map(|v| Msg::Lessons(LessonsMsg::SetPolicy(v))),
            proptest::option::of(proptest::sample::select(crate::explore::lesson_kernels()))
                .prop_map(|k| Msg::Lessons(LessonsMsg::SetKernel(k))),
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
            prop_assert_eq!(r.work.session.cursor(), s.work.session.cursor());
            prop_assert_eq!(r.work.session.vgic().state(), s.work.session.vgic().state());
            prop_assert_eq!(&r.migrate.form, &s.migrate.form);
            prop_assert!(r.work.banners.list().is_empty(), "{:?}", r.work.banners.list());
        }
    }
}
