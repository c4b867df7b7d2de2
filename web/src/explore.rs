//! The forms of the Migrate, Matrix, Delivery path and Lessons views, their
//! link structs, and the built-in lessons. Each form turns what is typed into a
//! scenario step (or a core call); the state's reducer (`state/`) decides when.
//! [`AuditRunner`] is the audit job `App`'s effect steps in slices.

use std::rc::Rc;

use gicx_core::audit::{AuditJob, AuditOptions, PolicyCounts, Progress};
use gicx_core::guest::GuestProfile;
use gicx_core::host::{Era, Host, KernelVersion};
use gicx_core::migrate::{
    migrate_vm_without_fixes, Difference, HostArg, MigrateStep, Migration, PolicyArg, Verdict,
};
use gicx_core::scenario::{parse, IrqLineStep, Num, Scenario, SgiStep, SgiTargets, Step};
use gicx_core::vgic::RestorePolicy;
use gicx_core::vmm::{Recipe, RECIPES};

use serde::{Deserialize, Serialize};

use crate::session::Session;
use crate::state::matrix::MatrixMsg;

/// Index in [`RECIPES`] of a VMM id (0 if unknown).
pub fn recipe_index(id: &str) -> usize {
    RECIPES.iter().position(|r| r.id == id).unwrap_or(0)
}

/// The Migrate form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrateForm {
    /// The destination host, compact syntax (`v4.0@5.7`).
    pub to: String,
    /// Index in [`RECIPES`].
    pub vmm: usize,
    pub policy: RestorePolicy,
}

impl Default for MigrateForm {
    fn default() -> Self {
        MigrateForm {
            to: "v4.0@5.7".into(),
            vmm: recipe_index("firecracker"),
            policy: RestorePolicy::Kernel,
        }
    }
}

impl MigrateForm {
    /// The destination, or why the text is not a host.
    pub fn host(&self) -> Result<Host, String> {
        Host::parse_compact(&self.to).map_err(|e| e.to_string())
    }

    /// The `migrate` step the form describes (built as typed data: going
    /// through `serde_json::Value` would compile a second copy of every step's
    /// deserializer into the app, see README "Speed and size").
    pub fn step(&self) -> Result<Step, String> {
        Ok(Step::Migrate(MigrateStep {
            to: HostArg(self.host()?),
            vmm: RECIPES[self.vmm.min(RECIPES.len() - 1)].id.to_string(),
            policy: (self.policy != RestorePolicy::Kernel).then_some(PolicyArg(self.policy)),
            expect_verdict: None,
            expect_error: None,
            expect_rule: None,
            expect_rules: Vec::new(),
            note: None,
        }))
    }
}

/// The Migrate form as a link carries it (`views.migrate`):
/// `{"vmm": "firecracker", "policy": "kernel", "to": "v4.0@5.7"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrateLink {
    /// A recipe id (`vmm::RECIPES`).
    pub vmm: String,
    /// A restore policy (`kernel`, `accept-any`, `relaxed-2020`).
    pub policy: String,
    /// The destination as typed (it may be empty or half-typed).
    #[serde(default)]
    pub to: String,
}

fn recipe_by_id(vmm: &str) -> Result<usize, String> {
    RECIPES
        .iter()
        .position(|r| r.id == vmm)
        .ok_or_else(|| format!("VMM {vmm:?} is not a recipe of this gicx"))
}

impl MigrateForm {
    /// The form as a link carries it ([`MigrateLink`]).
    pub fn link(&self) -> serde_json::Value {
        crate::view_link::write(&MigrateLink {
            vmm: self.recipe().id.into(),
            policy: self.policy.as_str().into(),
            to: self.to.clone(),
        })
    }

    /// The form from a link: [`MigrateLink`], or the text of links made before it.
    pub fn from_link(value: &serde_json::Value) -> Result<MigrateForm, String> {
        crate::view_link::read(
            value,
            |l: MigrateLink| {
                if l.to.contains(char::is_whitespace) {
                    return Err(format!("destination {:?} holds blanks", l.to));
                }
                Ok(MigrateForm {
                    vmm: recipe_by_id(&l.vmm)?,
                    policy: l.policy.parse()?,
                    to: super::state::clip(l.to),
                })
            },
            MigrateForm::from_text,
        )
    }

    /// The text form of links made before [`MigrateLink`]: `VMM POLICY DESTINATION`
    /// (only tests write it now, as old links).
    #[cfg(test)]
    pub fn to_text(&self) -> String {
        format!("{} {} {}", self.recipe().id, self.policy.as_str(), self.to)
            .trim_end()
            .to_string()
    }

    /// Read the text form of links made before [`MigrateLink`], refusing what it cannot mean.
    pub fn from_text(text: &str) -> Result<MigrateForm, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let (vmm, policy, to) = match parts[..] {
            [vmm, policy] => (vmm, policy, ""),
            [vmm, policy, to] => (vmm, policy, to),
            _ => {
                return Err(format!(
                    "{:?} is not \"VMM POLICY DESTINATION\"",
                    text.chars().take(80).collect::<String>()
                ))
            }
        };
        Ok(MigrateForm {
            to: to.to_string(),
            vmm: recipe_by_id(vmm)?,
            policy: policy.parse()?,
        })
    }

    pub fn recipe(&self) -> &'static Recipe {
        &RECIPES[self.vmm.min(RECIPES.len() - 1)]
    }
}

/// A one-click way past a migration the VMM cannot even attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrateFix {
    /// Give the session's VM the VMM's NR_IRQS.
    NrIrqs(u32),
    /// Give the session's VM an ITS, or take it away.
    Its(bool),
    /// `KVM_DEV_ARM_VGIC_CTRL_INIT` and the first `KVM_RUN` first (a VMM saves a
    /// VM that runs).
    InitRun,
    /// Start again from the VM this VMM creates on the session's host, booted by
    /// this guest profile (the Matrix's source VM: `migrate::source_scenario`).
    Prepare(GuestProfile),
}

impl MigrateFix {
    /// The button's words.
    pub fn label(self, recipe: &Recipe) -> String {
        match self {
            MigrateFix::NrIrqs(n) => format!("Set nr_irqs to {n} ({}'s) and migrate", recipe.name),
            MigrateFix::Its(true) => "Give the VM an ITS and migrate".into(),
            MigrateFix::Its(false) => "Remove the VM's ITS and migrate".into(),
            MigrateFix::InitRun => "Init and run the VM first, then migrate".into(),
            MigrateFix::Prepare(g) => format!(
                "Prepare the VM as {} and a {g} guest would, then migrate",
                recipe.name
            ),
        }
    }
}

/// Why the Migrate button did not add a migration, and the fixes offered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrateBlock {
    pub reason: String,
    pub fixes: Vec<MigrateFix>,
}

/// The shown migration (the last applied step) again from its source under each
/// restore policy, for the Migrate view's side-by-side comparison; `None` when the
/// last applied step is not a migration.
pub fn policy_comparison(
    session: &Session,
) -> Option<Vec<(RestorePolicy, Result<Migration, String>)>> {
    let Some(Step::Migrate(m)) = session.last_applied() else {
        return None;
    };
    let recipe = gicx_core::vmm::recipe(&m.vmm).ok()?;
    let mut source = session.clone();
    source.undo();
    Some(
        RestorePolicy::ALL
            .iter()
            .map(|&p| {
                let mut vm = source.vgic().clone();
                // Only verdicts and reasons are shown: no fixes to verify.
                let m = migrate_vm_without_fixes(&mut vm, m.to.0, recipe, p)
                    .map(|(m, _)| m)
                    .map_err(|e| e.to_string());
                (p, m)
            })
            .collect(),
    )
}

/// What the guest will experience, in one sentence.
pub fn experience(m: &Migration) -> String {
    let first = m
        .differences
        .first()
        .map(|d| format!("{} ({})", d.register, d.field))
        .unwrap_or_default();
    let more = m.differences.len().saturating_sub(1);
    let more = if more == 0 {
        String::new()
    } else {
        format!(" and {more} more thing{}", if more == 1 { "" } else { "s" })
    };
    match (m.verdict, &m.refusal) {
        (Verdict::Compatible, _) => {
            "The guest carries on on the destination and cannot tell it moved.".into()
        }
        (Verdict::SilentlyBroken, _) => format!(
            "Nothing refuses the migration: the guest runs on the destination but finds {first}{more} changed under it."
        ),
        (Verdict::Rejected, Some(f)) => format!(
            "The restore stops with {} at {}: the guest stays paused on the source (and had it gone through, it would have seen {first}{more} change).",
            f.errno, f.register
        ),
        (Verdict::NeedlesslyRejected, Some(f)) => format!(
            "The restore stops with {} at {}, although the guest would not have seen any difference: it stays paused on the source.",
            f.errno, f.register
        ),
        (_, None) => format!("The guest would see {first}{more} change."),
    }
}

/// Differences with identical rows folded: the same change on every vCPU
/// (`GICR_ISENABLER0@vcpu0`…`@vcpu3`) is one row, `GICR_ISENABLER0@vcpu0…3`.
pub fn folded_differences(diffs: &[Difference]) -> Vec<(String, &Difference)> {
    let mut out: Vec<(String, Vec<u32>, &Difference)> = Vec::new();
    for d in diffs {
        let (base, vcpu) = match d.register.rsplit_once("@vcpu") {
            Some((b, n)) => (b, n.parse::<u32>().ok()),
            None => (d.register.as_str(), None),
        };
        if let (Some(v), Some((name, vcpus, prev))) = (vcpu, out.last_mut()) {
            let same = name.as_str() == base
                && !vcpus.is_empty()
                && prev.field == d.field
                && prev.source == d.source
                && prev.destination == d.destination
                && prev.rules == d.rules
                && prev.reason == d.reason;
            if same {
                vcpus.push(v);
                continue;
            }
        }
        out.push((base.to_string(), vcpu.into_iter().collect(), d));
    }
    out.into_iter()
        .map(|(base, vcpus, d)| {
            let name = match vcpus[..] {
                [] => base,
                [v] => format!("{base}@vcpu{v}"),
                [first, .., last] if vcpus.windows(2).all(|w| w[1] == w[0] + 1) => {
                    format!("{base}@vcpu{first}…{last}")
                }
                _ => format!(
                    "{base}@vcpu{}",
                    vcpus
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            };
            (name, d)
        })
        .collect()
}

/// What the "Run audit" button has done.
#[derive(Clone, Debug, Default)]
pub enum AuditRun {
    #[default]
    Idle,
    /// Run `run` is going, in slices of [`AUDIT_SLICE_MS`] that an effect
    /// schedules ([`AuditRunner`]), the page rendering between them.
    Running {
        run: u64,
        progress: Progress,
    },
    Done(Rc<Vec<PolicyCounts>>),
    Failed(String),
}

/// How long one slice of the audit may run before the page gets the thread back
/// (to paint the progress and take input).
pub const AUDIT_SLICE_MS: f64 = 50.0;

impl AuditRun {
    /// While running: which run and how many pieces are done (the key that
    /// schedules the next slice).
    pub fn running_at(&self) -> Option<(u64, usize)> {
        match self {
            AuditRun::Running { run, progress } => Some((*run, progress.done)),
            _ => None,
        }
    }
}

/// The audit job of one run, held by the effect that steps it (never by the
/// state: a state is a value the reducer copies, the booted sources are not).
/// Each [`AuditRunner::slice`] does at least one piece of work and says how far
/// the run is, or its result, as the message for the reducer.
pub struct AuditRunner {
    pub run: u64,
    job: Option<AuditJob>,
}

impl AuditRunner {
    pub fn new(run: u64, opts: &AuditOptions) -> AuditRunner {
        AuditRunner {
            run,
            job: Some(AuditJob::new(opts)),
        }
    }

    /// Work for at most `budget_ms` by `now` (milliseconds from any fixed
    /// point: the effect passes the page's clock), at least one piece.
    pub fn slice(&mut self, budget_ms: f64, now: &dyn Fn() -> f64) -> MatrixMsg {
        let run = self.run;
        let done = |result| MatrixMsg::AuditDone { run, result };
        let Some(job) = self.job.as_mut() else {
            return done(Err("the audit was already finished".into()));
        };
        let t0 = now();
        let progress = loop {
            match job.step() {
                Err(e) => {
                    self.job = None;
                    return done(Err(e.to_string()));
                }
                Ok(p) if p.finished() || now() - t0 >= budget_ms => break p,
                Ok(_) => {}
            }
        };
        if !progress.finished() {
            return MatrixMsg::AuditProgress { run, progress };
        }
        let Some(finished) = self.job.take() else {
            return done(Err("the audit was already finished".into()));
        };
        done(
            finished
                .finish(1)
                .map(|r| Rc::new(r.per_policy))
                .map_err(|e| e.to_string()),
        )
    }
}

/// The Matrix form and its results.
#[derive(Clone, Debug)]
pub struct MatrixForm {
    pub vmm: usize,
    pub guest: GuestProfile,
    pub policies: [RestorePolicy; 2],
    /// One matrix per policy, computed by an effect when the form changes
    /// (`state::matrix::compute_tables`).
    pub tables: Option<crate::state::matrix::Tables>,
    /// The opened cell: table, source and destination hosts.
    pub cell: Option<(usize, Host, Host)>,
    /// The opened cell, replayed in full.
    pub detail: Option<Rc<Result<Migration, String>>>,
    /// A cause set aside: cells are judged as if the differences it produced were not
    /// there (QEMU's IROUTER stride breaks every cell and hides the rest).
    pub aside: Option<&'static str>,
    pub audit: AuditRun,
    /// How many audits were started (the id of the last run).
    pub audit_runs: u64,
    /// What "Run audit" audits: the whole space, on the page's one thread, counts only.
    pub audit_options: AuditOptions,
}

impl Default for MatrixForm {
    fn default() -> Self {
        MatrixForm {
            vmm: recipe_index("firecracker"),
            guest: GuestProfile::Linux,
            policies: [RestorePolicy::Kernel, RestorePolicy::Relaxed2020],
            tables: None,
            cell: None,
            detail: None,
            aside: None,
            audit: AuditRun::Idle,
            audit_runs: 0,
            audit_options: AuditOptions {
                threads: 1,
                examples: 0,
                ..AuditOptions::default()
            },
        }
    }
}

/// The Matrix form as a link carries it (`views.matrix`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatrixLink {
    pub vmm: usize,
    pub guest: GuestProfile,
    pub policies: [RestorePolicy; 2],
    /// The opened cell: table, source and destination hosts.
    pub cell: Option<(usize, Host, Host)>,
    /// A cause set aside (a rule id of [`SET_ASIDE`]).
    pub aside: Option<&'static str>,
}

/// Causes that the Matrix can set aside: a VMM bug that breaks every cell.
pub const SET_ASIDE: &[&str] = &["vmm.qemu.irouter_stride", "vmm.crosvm.sweep"];

/// [`MatrixLink`] as JSON (`views.matrix`): `{"vmm": "qemu", "guest": "linux",
/// "policies": ["kernel", "relaxed-2020"], "cell": {"table": 0, "from":
/// "v4.1@5.7", "to": "v4.0@5.7"}, "aside": "vmm.qemu.irouter_stride"}`; hosts
/// in compact form, so a link survives a change in the order of the matrix's hosts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixJson {
    pub vmm: String,
    pub guest: String,
    pub policies: [String; 2],
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<CellJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aside: Option<String>,
}

/// The opened cell in [`MatrixJson`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellJson {
    /// 0 or 1: which of the two tables.
    pub table: usize,
    pub from: String,
    pub to: String,
}

fn aside_rule(rule: &str) -> Result<&'static str, String> {
    SET_ASIDE
        .iter()
        .find(|r| **r == rule)
        .copied()
        .ok_or_else(|| format!("{rule:?} is not a cause the Matrix can set aside"))
}

impl MatrixLink {
    /// As a link carries it ([`MatrixJson`]).
    pub fn to_json(&self) -> serde_json::Value {
        crate::view_link::write(&MatrixJson {
            vmm: RECIPES[self.vmm.min(RECIPES.len() - 1)].id.into(),
            guest: self.guest.as_str().into(),
            policies: self.policies.map(|p| p.as_str().to_string()),
            cell: self.cell.map(|(table, from, to)| CellJson {
                table,
                from: from.compact(),
                to: to.compact(),
            }),
            aside: self.aside.map(str::to_string),
        })
    }

    /// From a link: [`MatrixJson`], or the text of links made before it.
    pub fn from_json(value: &serde_json::Value) -> Result<MatrixLink, String> {
        crate::view_link::read(
            value,
            |m: MatrixJson| {
                let cell = match m.cell {
                    None => None,
                    Some(c) => {
                        if c.table > 1 {
                            return Err(format!("cell table {} is not 0 or 1", c.table));
                        }
                        let host =
                            |h: &str| Host::parse_compact(h).map_err(|e| format!("cell: {e}"));
                        Some((c.table, host(&c.from)?, host(&c.to)?))
                    }
                };
                Ok(MatrixLink {
                    vmm: recipe_by_id(&m.vmm)?,
                    guest: m.guest.parse()?,
                    policies: [m.policies[0].parse()?, m.policies[1].parse()?],
                    cell,
                    aside: m.aside.as_deref().map(aside_rule).transpose()?,
                })
            },
            MatrixLink::from_text,
        )
    }

    /// The text form of links made before [`MatrixJson`]: `VMM GUEST POLICY
    /// POLICY`, then the opened cell as `TABLE:FROM>TO` (only tests write it now).
    #[cfg(test)]
    pub fn to_text(&self) -> String {
        let mut t = format!(
            "{} {} {} {}",
            RECIPES[self.vmm.min(RECIPES.len() - 1)].id,
            self.guest.as_str(),
            self.policies[0].as_str(),
            self.policies[1].as_str()
        );
        if let Some((table, from, to)) = &self.cell {
            t.push_str(&format!(" {table}:{}>{}", from.compact(), to.compact()));
        }
        if let Some(rule) = self.aside {
            t.push_str(&format!(" aside={rule}"));
        }
        t
    }

    /// Read the text form of links made before [`MatrixJson`], refusing what it cannot mean.
    pub fn from_text(text: &str) -> Result<MatrixLink, String> {
        let mut parts: Vec<&str> = text.split_whitespace().collect();
        let aside = match parts.last().and_then(|p| p.strip_prefix("aside=")) {
            Some(rule) => {
                let known = aside_rule(rule)?;
                parts.pop();
                Some(known)
            }
            None => None,
        };
        let (vmm, guest, a, b, cell) = match parts[..] {
            [vmm, guest, a, b] => (vmm, guest, a, b, None),
            [vmm, guest, a, b, cell] => (vmm, guest, a, b, Some(cell)),
            _ => {
                return Err(format!(
                    "{:?} is not \"VMM GUEST POLICY POLICY [TABLE:FROM>TO]\"",
                    text.chars().take(80).collect::<String>()
                ))
            }
        };
        let vmm = recipe_by_id(vmm)?;
        let cell = match cell {
            None => None,
            Some(c) => {
                let bad =
                    || format!("cell {c:?} is not \"TABLE:FROM>TO\" (e.g. 0:v4.1@5.7>v4.0@5.7)");
                let (table, hosts) = c.split_once(':').ok_or_else(bad)?;
                let (from, to) = hosts.split_once('>').ok_or_else(bad)?;
                let table = match table {
                    "0" => 0,
                    "1" => 1,
                    _ => return Err(format!("cell table {table:?} is not 0 or 1")),
                };
                let host = |h: &str| Host::parse_compact(h).map_err(|e| format!("cell: {e}"));
                Some((table, host(from)?, host(to)?))
            }
        };
        Ok(MatrixLink {
            vmm,
            guest: guest.parse()?,
            policies: [a.parse()?, b.parse()?],
            cell,
            aside,
        })
    }
}

impl MatrixForm {
    /// What a link keeps of the form.
    pub fn link(&self) -> MatrixLink {
        MatrixLink {
            vmm: self.vmm,
            guest: self.guest,
            policies: self.policies,
            cell: self.cell,
            aside: self.aside,
        }
    }
}

/// The Delivery path form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryForm {
    pub from: u32,
    pub intid: String,
    /// Target vCPUs, separated by commas or spaces.
    pub targets: String,
    pub spi: String,
    pub level: bool,
    /// The MSI's device ID (KVM_MSI_VALID_DEVID) and event ID (the data).
    pub msi_device: String,
    pub msi_event: String,
    /// The vCPU that acknowledges (ICC_IAR1_EL1) and ends (ICC_EOIR1_EL1).
    pub ack_vcpu: u32,
}

impl Default for DeliveryForm {
    fn default() -> Self {
        DeliveryForm {
            from: 0,
            intid: "1".into(),
            targets: "1".into(),
            spi: "32".into(),
            level: true,
            msi_device: "3".into(),
            msi_event: "2".into(),
            ack_vcpu: 1,
        }
    }
}

fn number(what: &str, text: &str) -> Result<u32, String> {
    gicx_core::number::parse_u32(text)
        .ok()
        .ok_or_else(|| format!("{what}: {:?} is not a number", text.trim()))
}

impl DeliveryForm {
    /// The SGI step, or every problem of the form at once (INTID and each
    /// target), for a VM of `vcpus` vCPUs.
    pub fn sgi(&self, vcpus: u32) -> Result<Step, String> {
        let mut errors = Vec::new();
        let intid = match number("INTID", &self.intid) {
            Ok(n) if n < 16 => Some(n),
            Ok(n) => {
                errors.push(format!("INTID {n}: SGIs are INTIDs 0–15"));
                None
            }
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let mut targets = Vec::new();
        for t in self
            .targets
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            match number("target", t) {
                Ok(v) if v < vcpus => targets.push(v),
                Ok(v) => errors.push(format!(
                    "target vCPU {v}: the VM has {vcpus} vCPU{} (0–{})",
                    if vcpus == 1 { "" } else { "s" },
                    vcpus - 1
                )),
                Err(e) => errors.push(e),
            }
        }
        if self.targets.trim().is_empty() {
            errors.push("no target: give vCPU numbers, e.g. 1 or 1, 2".into());
        }
        match intid {
            Some(intid) if errors.is_empty() => Ok(Step::Sgi(SgiStep {
                from: self.from,
                intid,
                targets: SgiTargets::List(targets),
                expect_path: None,
                expect_pending_on: None,
                expect_doorbell: None,
                expect_rule: None,
                note: None,
            })),
            _ => Err(errors.join("; ")),
        }
    }

    pub fn spi(&self) -> Result<Step, String> {
        let intid = number("INTID", &self.spi)?;
        // kvm_vm_ioctl_irq_line (arch/arm64/kvm/arm.c): KVM_ARM_IRQ_TYPE_SPI takes
        // INTIDs from 32, KVM_ARM_IRQ_TYPE_PPI 16-31 with a vCPU; no type raises
        // an SGI (-EINVAL). Said here, before a step the form cannot mean.
        if intid < 16 {
            return Err(format!(
                "INTID {intid} is an SGI: KVM_IRQ_LINE cannot raise SGIs (KVM answers -EINVAL); send it with the SGI form, as a guest writes ICC_SGI1R_EL1"
            ));
        }
        if intid < 32 {
            return Err(format!(
                "INTID {intid} is a PPI: this form raises SPIs (INTIDs from 32); KVM_IRQ_LINE raises a PPI only with the vCPU it belongs to (a scenario's irq_line step with vcpu)"
            ));
        }
        Ok(Step::IrqLine(IrqLineStep {
            intid,
            level: self.level,
            vcpu: None,
            expect_error: None,
            expect_rule: None,
            note: None,
        }))
    }

    /// The `msi` step: `KVM_SIGNAL_MSI` with `KVM_MSI_VALID_DEVID`, the event
    /// ID as data, at the VM's GITS_TRANSLATER (`translater`: `None` if the VM
    /// has no ITS). Every problem of the form at once.
    pub fn msi(&self, translater: Option<u64>) -> Result<Step, String> {
        let mut errors = Vec::new();
        let mut field = |what: &str, text: &str| match gicx_core::number::parse(text.trim()) {
            Ok(v) if v <= u32::MAX as u64 => Some(v),
            Ok(v) => {
                errors.push(format!("{what} {v:#x}: KVM_SIGNAL_MSI carries 32 bits"));
                None
            }
            Err(_) => {
                errors.push(format!("{what}: {:?} is not a number", text.trim()));
                None
            }
        };
        let device = field("device ID", &self.msi_device);
        let event = field("event ID", &self.msi_event);
        let Some(addr) = translater else {
            return Err("this VM has no ITS, so KVM_SIGNAL_MSI fails (-ENODEV): give it one in the ITS view (vm.its)".into());
        };
        match (device, event) {
            (Some(d), Some(e)) if errors.is_empty() => {
                Ok(Step::Msi(gicx_core::scenario::MsiStep {
                    addr: Num(addr),
                    data: Num(e),
                    devid: Some(Num(d)),
                    ..Default::default()
                }))
            }
            _ => Err(errors.join("; ")),
        }
    }
}

/// A built-in lesson.
pub struct Lesson {
    pub id: &'static str,
    pub title: &'static str,
    json: &'static str,
}

pub const LESSONS: &[Lesson] = &[
    Lesson {
        id: "first-sgi",
        title: "Your first SGI",
        json: include_str!("../../tests/scenarios/lesson-first-sgi.json"),
    },
    Lesson {
        id: "2020-1",
        title: "2020 GICD_TYPER2 debate 1/4: silently broken",
        json: include_str!("../../tests/scenarios/lesson-2020-typer2-1-silently-broken.json"),
    },
    Lesson {
        id: "2020-2",
        title: "2020 GICD_TYPER2 debate 2/4: rejected",
        json: include_str!("../../tests/scenarios/lesson-2020-typer2-2-rejected.json"),
    },
    Lesson {
        id: "2020-3",
        title: "2020 GICD_TYPER2 debate 3/4: needlessly rejected",
        json: include_str!("../../tests/scenarios/lesson-2020-typer2-3-needlessly-rejected.json"),
    },
    Lesson {
        id: "2020-4",
        title: "2020 GICD_TYPER2 debate 4/4: the relaxed rule",
        json: include_str!("../../tests/scenarios/lesson-2020-typer2-4-relaxed.json"),
    },
    Lesson {
        id: "2026",
        title: "2026: GICv5 hosts and stable kernels",
        json: include_str!("../../tests/scenarios/lesson-2026-gicv5-stable.json"),
    },
    Lesson {
        id: "first-msi",
        title: "Your first MSI",
        json: include_str!("../../tests/scenarios/lesson-first-msi.json"),
    },
];

/// Destinations the lesson's era selector offers: a kernel (the lesson's
/// destination hardware on that kernel: each era's first release, from
/// [`Era::ALL`], and the stable kernels of [`LESSON_STABLE_KERNELS`] in version
/// order), or a whole host ([`LESSON_HOSTS`]).
pub fn lesson_kernels() -> Vec<String> {
    let mut kernels: Vec<KernelVersion> = Era::ALL
        .iter()
        .map(|e| e.version())
        .chain(LESSON_STABLE_KERNELS.iter().filter_map(|k| k.parse().ok()))
        .collect();
    kernels.sort();
    kernels.dedup();
    kernels
        .iter()
        .map(|k| k.to_string())
        .chain(LESSON_HOSTS.iter().map(|h| h.to_string()))
        .collect()
}

/// Stable kernels on both sides of the IIDR revision backport (6.12.86,
/// 6.12.88) and 7.0.9, offered beside the eras' releases.
pub const LESSON_STABLE_KERNELS: &[&str] = &["6.12.86", "6.12.88", "7.0.9"];

/// Whole hosts the era selector offers after the kernels: GICv4.1 on 7.1, and
/// GICv5 hosts (`v5@6.17`: the 2026 chapter's question).
pub const LESSON_HOSTS: &[&str] = &["v4.1@7.1", "v5@6.17", "v5@7.1"];

/// The open lesson and how its migration is rewritten.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LessonState {
    pub index: usize,
    /// Override of the migrate step's policy.
    pub policy: Option<RestorePolicy>,
    /// Override of the migrate step's destination kernel.
    pub kernel: Option<String>,
}

/// The open lesson as a link carries it (`views.lessons`):
/// `{"lesson": "2020-1", "policy": "accept-any", "kernel": "6.17"}`, the
/// rewrites only when set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LessonLink {
    /// The lesson's id ([`Lesson::id`]).
    pub lesson: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
}

impl LessonState {
    /// The lesson as a link carries it ([`LessonLink`]).
    pub fn link(&self) -> serde_json::Value {
        crate::view_link::write(&LessonLink {
            lesson: self.lesson().id.into(),
            policy: self.policy.map(|p| p.as_str().to_string()),
            kernel: self.kernel.clone(),
        })
    }

    /// The lesson from a link: [`LessonLink`], or the text of links made before it.
    pub fn from_link(value: &serde_json::Value) -> Result<LessonState, String> {
        crate::view_link::read(
            value,
            |l: LessonLink| {
                let index = LESSONS
                    .iter()
                    .position(|x| x.id == l.lesson)
                    .ok_or_else(|| format!("lesson {:?} does not exist", l.lesson))?;
                LessonState::checked(index, l.policy.as_deref(), l.kernel.as_deref())
            },
            LessonState::from_text,
        )
    }

    fn checked(
        index: usize,
        policy: Option<&str>,
        kernel: Option<&str>,
    ) -> Result<LessonState, String> {
        let policy = policy.map(str::parse::<RestorePolicy>).transpose()?;
        let kernel = match kernel {
            None => None,
            Some(k) if lesson_kernels().iter().any(|x| x == k) => Some(k.to_string()),
            Some(k) => return Err(format!("kernel {k:?} is not one the lesson offers")),
        };
        Ok(LessonState {
            index,
            policy,
            kernel,
        })
    }

    /// The text form of links made before [`LessonLink`]: `INDEX POLICY|- KERNEL|-`
    /// (only tests write it now, as old links).
    #[cfg(test)]
    pub fn to_text(&self) -> String {
        format!(
            "{} {} {}",
            self.index,
            self.policy.map(|p| p.as_str()).unwrap_or("-"),
            self.kernel.as_deref().unwrap_or("-")
        )
    }

    /// Read the text form of links made before [`LessonLink`], refusing what it cannot mean.
    pub fn from_text<'a>(text: &'a str) -> Result<LessonState, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [index, policy, kernel] = parts[..] else {
            return Err(format!("{text:?} is not \"LESSON POLICY KERNEL\""));
        };
        let index: usize = index
            .parse()
            .map_err(|_| format!("lesson {index:?} is not a number"))?;
        if index >= LESSONS.len() {
            return Err(format!(
                "lesson {index} does not exist (there are {})",
                LESSONS.len()
            ));
        }
        let dash = |t: &'a str| (t != "-").then_some(t);
        LessonState::checked(index, dash(policy), dash(kernel))
    }

    pub fn lesson(&self) -> &'static Lesson {
        &LESSONS[self.index.min(LESSONS.len() - 1)]
    }

    /// The lesson's scenario with its migrate steps rewritten.
    pub fn scenario(&self) -> Result<Scenario, String> {
        let mut sc = parse(self.lesson().json).map_err(|e| e.to_string())?;
        for s in &mut sc.steps {
            if let Step::Migrate(m) = s {
                if let Some(p) = self.policy {
                    m.policy = Some(PolicyArg(p));
                }
                if let Some(k) = &self.kernel {
                    let to = if k.contains('@') {
                        k.clone()
                    } else {
                        let gic = m.to.0.compact();
                        let gic = gic.split('@').next().unwrap_or(&gic).to_string();
                        format!("{gic}@{k}")
                    };
                    m.to = HostArg(Host::parse_compact(&to).map_err(|e| e.to_string())?);
                }
                // The lesson's expectations describe the original; a rewritten
                // step shows whatever the model says.
                if self.policy.is_some() || self.kernel.is_some() {
                    m.expect_verdict = None;
                    m.expect_error = None;
                    m.expect_rule = None;
                    m.expect_rules.clear();
                }
            }
        }
        Ok(sc)
    }

    /// Whether the lesson has a migration to rewrite.
    pub fn migrates(&self) -> bool {
        self.lesson().json.contains("\"migrate\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lesson_kernels_are_every_era_then_stable_kernels_then_hosts() {
        // Every era's first release, 7.1 included, in version order with the
        // stable kernels, then the whole hosts: the list the selector offered
        // when it was written by hand.
        assert_eq!(
            lesson_kernels(),
            [
                "4.19", "5.7", "5.13", "5.19", "6.8", "6.12.86", "6.12.88", "6.17", "7.0.9", "7.1",
                "v4.1@7.1", "v5@6.17", "v5@7.1",
            ]
        );
        for era in Era::ALL {
            assert!(
                lesson_kernels().contains(&era.version().to_string()),
                "{era:?}"
            );
        }
    }

    #[test]
    fn lessons_parse_and_rewrite() {
        for i in 0..LESSONS.len() {
            let l = LessonState {
                index: i,
                ..Default::default()
            };
            l.scenario().unwrap();
        }
        let l = LessonState {
            index: 1,
            policy: Some(RestorePolicy::AcceptAny),
            kernel: Some("6.17".into()),
        };
        let sc = l.scenario().unwrap();
        let m = sc
            .steps
            .iter()
            .find_map(|s| match s {
                Step::Migrate(m) => Some(m),
                _ => None,
            })
            .unwrap();
        assert_eq!(m.to.0.compact(), "v4.0@6.17");
        assert_eq!(m.policy.unwrap().0, RestorePolicy::AcceptAny);
        // A whole host: the 2020 source moves to a GICv5 host.
        let l = LessonState {
            index: 1,
            policy: None,
            kernel: Some("v5@7.1".into()),
        };
        let sc = l.scenario().unwrap();
        assert!(sc
            .steps
            .iter()
            .any(|s| matches!(s, Step::Migrate(m) if m.to.0.compact() == "v5@7.1")));
        // The 2026 chapter's GICv5 destination cannot run a kernel before 6.17: said, not hidden.
        let i = LESSONS.iter().position(|l| l.id == "2026").unwrap();
        let l = LessonState {
            index: i,
            policy: None,
            kernel: Some("5.7".into()),
        };
        assert!(l.scenario().unwrap_err().contains("6.17"));
    }

    // proptest is a native dev-dependency (the wasm32 tests run in the browser).
    #[cfg(not(target_arch = "wasm32"))]
    mod matrix_links {
        use super::*;
        use gicx_core::audit::audit_hosts;
        use proptest::prelude::*;

        fn link() -> impl Strategy<Value = MatrixLink> {
            let hosts = audit_hosts();
            let n = hosts.len();
            (
                0..RECIPES.len(),
                0..GuestProfile::ALL.len(),
                0..RestorePolicy::ALL.len(),
                0..RestorePolicy::ALL.len(),
                proptest::option::of((0..2usize, 0..n, 0..n)),
                proptest::option::of(proptest::sample::select(SET_ASIDE.to_vec())),
            )
                .prop_map(move |(vmm, g, a, b, cell, aside)| MatrixLink {
                    vmm,
                    guest: GuestProfile::ALL[g],
                    policies: [RestorePolicy::ALL[a], RestorePolicy::ALL[b]],
                    cell: cell.map(|(t, f, d)| (t, hosts[f], hosts[d])),
                    aside,
                })
        }

        proptest! {
            #[test]
            fn text_round_trips(l in link()) {
                prop_assert_eq!(MatrixLink::from_text(&l.to_text()), Ok(l));
            }

            #[test]
            fn json_round_trips_and_old_text_reads_the_same(l in link()) {
                prop_assert_eq!(MatrixLink::from_json(&l.to_json()), Ok(l.clone()));
                prop_assert_eq!(MatrixLink::from_json(&l.to_text().into()), Ok(l));
            }

            #[test]
            fn any_text_is_read_or_refused_with_a_reason(text in "\\PC{0,120}") {
                if let Err(e) = MatrixLink::from_text(&text) {
                    prop_assert!(!e.is_empty());
                }
            }

            #[test]
            fn near_misses_are_refused_or_read_back_the_same(
                l in link(),
                cut in 0usize..80,
                junk in "[ :>@.a-z0-9+-]{0,6}",
            ) {
                let text = l.to_text();
                let cut = text.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(text.len());
                let mangled = format!("{}{}{}", &text[..cut], junk, &text[cut..]);
                if let Ok(back) = MatrixLink::from_text(&mangled) {
                    // Whatever it reads, it writes back as text it reads the same way.
                    prop_assert_eq!(MatrixLink::from_text(&back.to_text()), Ok(back));
                }
            }
        }
    }

    #[test]
    fn migrate_and_lesson_forms_travel_as_structs_and_old_text_still_opens() {
        let f = MigrateForm {
            to: "v4.0@6.17".into(),
            vmm: recipe_index("qemu"),
            policy: RestorePolicy::AcceptAny,
        };
        assert_eq!(
            f.link(),
            serde_json::json!({"vmm": "qemu", "policy": "accept-any", "to": "v4.0@6.17"})
        );
        assert_eq!(MigrateForm::from_link(&f.link()), Ok(f.clone()));
        assert_eq!(MigrateForm::from_link(&f.to_text().into()), Ok(f));
        let bad = |v| MigrateForm::from_link(&v).unwrap_err();
        assert_eq!(
            bad(serde_json::json!({"vmm": "qemu9", "policy": "kernel"})),
            "VMM \"qemu9\" is not a recipe of this gicx"
        );
        assert!(bad(serde_json::json!({"vmm": "qemu", "policy": "lax"})).contains("lax"));
        assert_eq!(
            bad(serde_json::json!({"vmm": "qemu", "policy": "kernel", "to": "v3@5.7 x"})),
            "destination \"v3@5.7 x\" holds blanks"
        );

        let l = LessonState {
            index: 1,
            policy: Some(RestorePolicy::Relaxed2020),
            kernel: Some("6.17".into()),
        };
        assert_eq!(
            l.link(),
            serde_json::json!({"lesson": "2020-1", "policy": "relaxed-2020", "kernel": "6.17"})
        );
        assert_eq!(LessonState::from_link(&l.link()), Ok(l.clone()));
        assert_eq!(LessonState::from_link(&l.to_text().into()), Ok(l));
        assert_eq!(
            LessonState::from_link(&serde_json::json!({"lesson": "nope"})),
            Err("lesson \"nope\" does not exist".into())
        );
        assert_eq!(
            LessonState::from_link(&serde_json::json!({"lesson": "2020-1", "kernel": "3.2"})),
            Err("kernel \"3.2\" is not one the lesson offers".into())
        );
    }

    #[test]
    fn identical_rows_fold_per_vcpu() {
        let d = |reg: &str, src: u64| Difference {
            kind: gicx_core::migrate::DiffKind::StateChanged,
            register: reg.into(),
            field: "enabled".into(),
            source: src,
            destination: 0,
            rules: vec!["r"],
            reason: "why".into(),
            subject: gicx_core::migrate::Subject::DistEnable,
        };
        let diffs = [
            d("GICD_TYPER2", 1),
            d("GICR_ISENABLER0@vcpu0", 0xffff),
            d("GICR_ISENABLER0@vcpu1", 0xffff),
            d("GICR_ISENABLER0@vcpu2", 0xffff),
            d("GICR_ISENABLER0@vcpu3", 0xffff),
            d("GICR_ICFGR1@vcpu0", 2),
            d("GICR_ICFGR1@vcpu1", 3),
            d("GICR_IPRIORITYR0@vcpu0", 1),
            d("GICR_IPRIORITYR0@vcpu2", 1),
        ];
        let names: Vec<String> = folded_differences(&diffs)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            [
                "GICD_TYPER2",
                "GICR_ISENABLER0@vcpu0…3",
                "GICR_ICFGR1@vcpu0",
                "GICR_ICFGR1@vcpu1",
                "GICR_IPRIORITYR0@vcpu0,2"
            ]
        );
    }

    #[test]
    fn forms_make_steps() {
        assert_eq!(MigrateForm::default().step().unwrap().op(), "migrate");
        let bad = MigrateForm {
            to: "v9@1".into(),
            ..Default::default()
        };
        assert!(bad.step().is_err());
        let d = DeliveryForm::default();
        assert_eq!(d.sgi(4).unwrap().op(), "sgi");
        assert_eq!(d.spi().unwrap().op(), "irq_line");
        let bad = DeliveryForm {
            targets: "1, x".into(),
            ..Default::default()
        };
        assert!(bad.sgi(4).unwrap_err().contains("target"));
        // Every problem at once.
        let worse = DeliveryForm {
            intid: "16".into(),
            targets: "x, 9".into(),
            ..Default::default()
        };
        assert_eq!(
            worse.sgi(4).unwrap_err(),
            "INTID 16: SGIs are INTIDs 0–15; target: \"x\" is not a number; target vCPU 9: the VM has 4 vCPUs (0–3)"
        );
    }
}
