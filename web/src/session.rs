//! The work a person has done: a scenario (host, VM, the ordered steps) and an
//! undo cursor into it. The live [`Vgic`] is never edited in place: it is what
//! `gicx_core::scenario::run_step` makes of the applied steps, run on a fresh
//! `Vgic::new(host, vm)`, cached for the current cursor.
//!
//! Cost: a new step runs once, on a copy of the cached VM; redo runs the redone
//! steps the same way; only undo, seeking back and a host or VM change replay
//! from the start.

use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use gicx_core::host::Host;
use gicx_core::readback::{changes, Change};
use gicx_core::scenario::{run_step_from, ErrnoName, Num, Origin, Scenario, Step, StepReport};
use gicx_core::vgic::{AccessError, Op, Vgic, VmConfig};

/// The VM after the applied steps, with their reports.
#[derive(Debug)]
pub struct Replay {
    pub vgic: Vgic,
    /// One report per applied step.
    pub reports: Vec<Rc<StepReport>>,
    /// Why replaying stopped before the cursor, if it did.
    pub stopped: Option<Stopped>,
}

/// Replays are compared by identity: one replay is one cached VM (views
/// memoise what they read from it on this).
impl PartialEq for Replay {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

/// A step that cannot run on the current host or VM (e.g. it addresses a vCPU
/// the VM no longer has): replay stops before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stopped {
    pub index: usize,
    pub op: &'static str,
    pub reason: String,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "step {} ({}) cannot run here: {}",
            self.index + 1,
            self.op,
            self.reason
        )
    }
}

/// What one new step did.
#[derive(Clone, Debug)]
pub struct Done {
    pub report: Rc<StepReport>,
    /// Registers whose guest or VMM value the step changed.
    pub changes: Vec<Change>,
}

/// The scenario being explored and the undo cursor.
#[derive(Clone, Debug)]
pub struct Session {
    pub name: Option<String>,
    pub description: Option<String>,
    pub note: Option<String>,
    host: Host,
    vm: VmConfig,
    steps: Rc<Vec<Step>>,
    /// `steps[..cursor]` are applied; the rest can be redone.
    cursor: usize,
    replay: Rc<Replay>,
    /// Unique to this content: it changes whenever the host, VM, steps or
    /// cursor do (views and the URL compare it instead of the log).
    revision: u64,
}

fn next_revision() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl PartialEq for Session {
    fn eq(&self, other: &Self) -> bool {
        self.revision == other.revision
    }
}

impl Default for Session {
    fn default() -> Self {
        Session::new(
            Scenario {
                name: None,
                description: None,
                note: None,
                host: Host::parse_compact("v4.1@6.17").expect("a valid host"),
                vm: VmConfig::default(),
                steps: Vec::new(),
            },
            0,
        )
    }
}

fn replay(host: Host, vm: VmConfig, steps: &[Step]) -> Replay {
    run_steps(
        Vgic::new(host, vm),
        Vec::with_capacity(steps.len()),
        Origin { host, vm, steps },
        0,
    )
}

/// Run the steps of `log` from index `first` on `vgic` (the VM `log` created with its
/// steps before `first`), after `reports`, stopping at the first that cannot run.
fn run_steps(
    mut vgic: Vgic,
    mut reports: Vec<Rc<StepReport>>,
    log: Origin,
    first: usize,
) -> Replay {
    let mut stopped = None;
    for (index, step) in log.steps.iter().enumerate().skip(first) {
        let origin = Origin {
            steps: &log.steps[..index],
            ..log
        };
        match run_step_from(&mut vgic, Some(origin), index, step) {
            Ok(r) => reports.push(Rc::new(r)),
            Err(e) => {
                stopped = Some(Stopped {
                    index,
                    op: step.op(),
                    reason: e.to_string(),
                });
                break;
            }
        }
    }
    Replay {
        vgic,
        reports,
        stopped,
    }
}

impl Session {
    /// Open `scenario` with its first `cursor` steps applied (fewer if one of
    /// them cannot run: see [`Session::stopped`]).
    pub fn new(scenario: Scenario, cursor: usize) -> Session {
        let cursor = cursor.min(scenario.steps.len());
        let r = replay(scenario.host, scenario.vm, &scenario.steps[..cursor]);
        Session {
            name: scenario.name,
            description: scenario.description,
            note: scenario.note,
            host: scenario.host,
            vm: scenario.vm,
            cursor: r.reports.len(),
            steps: Rc::new(scenario.steps),
            replay: Rc::new(r),
            revision: next_revision(),
        }
    }

    pub fn host(&self) -> Host {
        self.host
    }
    pub fn vm(&self) -> VmConfig {
        self.vm
    }
    /// Every step, including undone ones.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
    pub fn cursor(&self) -> usize {
        self.cursor
    }
    /// Changes whenever the host, VM, steps or cursor change.
    pub fn revision(&self) -> u64 {
        self.revision
    }
    pub fn can_undo(&self) -> bool {
        self.cursor > 0
    }
    pub fn can_redo(&self) -> bool {
        self.cursor < self.steps.len()
    }
    /// The cached replay (the live VM and the applied steps' reports).
    pub fn replay(&self) -> &Rc<Replay> {
        &self.replay
    }
    pub fn vgic(&self) -> &Vgic {
        &self.replay.vgic
    }
    pub fn stopped(&self) -> Option<&Stopped> {
        self.replay.stopped.as_ref()
    }

    /// Do a new step: it runs on a copy of the live VM; on success it replaces
    /// the steps after the cursor (they can no longer be redone). `focus` lists
    /// the vCPUs whose redistributors to compare for [`Done::changes`].
    pub fn push(&mut self, step: Step, focus: &[u32]) -> Result<Done, AccessError> {
        let before = &self.replay.vgic;
        let mut vgic = before.clone();
        let origin = Origin {
            host: self.host,
            vm: self.vm,
            steps: &self.steps[..self.cursor],
        };
        let report = Rc::new(run_step_from(&mut vgic, Some(origin), self.cursor, &step)?);
        let changes = changes(before, &vgic, focus);
        let mut reports = self.replay.reports[..self.cursor].to_vec();
        reports.push(report.clone());
        let steps = Rc::make_mut(&mut self.steps);
        steps.truncate(self.cursor);
        steps.push(step);
        self.cursor += 1;
        self.replay = Rc::new(Replay {
            vgic,
            reports,
            stopped: None,
        });
        self.revision = next_revision();
        Ok(Done { report, changes })
    }

    /// The registers the last applied step changed (before → after), found by
    /// replaying the steps before it: for views that show a step after the fact
    /// (the lessons), where [`Session::push`]'s answer is long gone.
    pub fn changes_of_last(&self, focus: &[u32]) -> Vec<gicx_core::readback::Change> {
        let Some(last) = self.cursor.checked_sub(1) else {
            return Vec::new();
        };
        let before = replay(self.host(), self.vm(), &self.steps[..last]);
        if before.stopped.is_some() {
            return Vec::new();
        }
        changes(&before.vgic, &self.replay.vgic, focus)
    }

    /// The last applied step, if any.
    pub fn last_applied(&self) -> Option<&Step> {
        self.cursor.checked_sub(1).map(|i| &self.steps[i])
    }

    /// Forget the undone steps from `n` on (`n` at or after the cursor): they can
    /// no longer be redone.
    pub fn forget_from(&mut self, n: usize) {
        let n = n.max(self.cursor);
        if n < self.steps.len() {
            Rc::make_mut(&mut self.steps).truncate(n);
            self.revision = next_revision();
        }
    }

    pub fn undo(&mut self) {
        if self.can_undo() {
            self.seek(self.cursor - 1);
        }
    }

    pub fn redo(&mut self) {
        if self.can_redo() {
            self.seek(self.cursor + 1);
        }
    }

    /// Move the cursor to `target` (clamped): back replays from the start,
    /// forward runs the redone steps on the cached VM.
    pub fn seek(&mut self, target: usize) {
        let target = target.min(self.steps.len());
        if target == self.cursor {
            return;
        }
        self.revision = next_revision();
        if target < self.cursor {
            self.replay = Rc::new(replay(self.host, self.vm, &self.steps[..target]));
            self.cursor = self.replay.reports.len();
            return;
        }
        let replay = run_steps(
            self.replay.vgic.clone(),
            self.replay.reports.clone(),
            Origin {
                host: self.host,
                vm: self.vm,
                steps: &self.steps[..target],
            },
            self.cursor,
        );
        self.cursor = replay.reports.len();
        self.replay = Rc::new(replay);
    }

    /// Run the log on another host and/or VM configuration.
    pub fn reconfigure(&mut self, host: Host, vm: VmConfig) {
        if host == self.host && vm == self.vm {
            return;
        }
        self.host = host;
        self.vm = vm;
        self.revision = next_revision();
        let cursor = self.cursor;
        self.replay = Rc::new(replay(host, vm, &self.steps[..cursor]));
        self.cursor = self.replay.reports.len();
    }

    /// The whole session as a scenario: every step when `all`, else the applied ones.
    pub fn scenario(&self, all: bool) -> Scenario {
        let steps = if all {
            self.steps.to_vec()
        } else {
            self.steps[..self.cursor].to_vec()
        };
        Scenario {
            name: self.name.clone(),
            description: self.description.clone(),
            note: self.note.clone(),
            host: self.host,
            vm: self.vm,
            steps,
        }
    }

    /// The applied steps as a scenario file; with `expectations`, each register
    /// and lifecycle step also records what it returned (`expect`,
    /// `expect_error`) and the rule that decided it (`expect_rule`), so
    /// `gicx run` checks the same behaviour again.
    pub fn export(&self, expectations: bool) -> Scenario {
        let mut sc = self.scenario(false);
        if !expectations {
            return sc;
        }
        for (step, report) in sc.steps.iter_mut().zip(&self.replay.reports) {
            let Some(o) = &report.outcome else { continue };
            let rule = o.rule().map(|r| r.id.to_string());
            let errno = o.errno.map(ErrnoName);
            match step {
                Step::GuestRead(s) => {
                    s.expect = Some(Num(o.value));
                    s.expect_rule = s.expect_rule.take().or(rule);
                }
                Step::GuestWrite(s) => s.expect_rule = s.expect_rule.take().or(rule),
                Step::UserRead(s) | Step::UserWrite(s) | Step::UserHas(s) => {
                    if errno.is_none() && o.op == Op::Read {
                        s.expect = Some(Num(o.value));
                    }
                    s.expect_error = s.expect_error.or(errno);
                    s.expect_rule = s.expect_rule.take().or(rule);
                }
                Step::Init(s) | Step::Run(s) | Step::SavePendingTables(s) => {
                    s.expect_error = s.expect_error.or(errno);
                    s.expect_rule = s.expect_rule.take().or(rule);
                }
                Step::MemRead(s) => s.expect = Some(Num(o.value)),
                Step::Msi(s) => {
                    if errno.is_none() && s.expect_error.is_none() {
                        s.expect = Some(Num(o.value));
                    }
                    s.expect_error = s.expect_error.or(errno);
                    s.expect_rule = s.expect_rule.take().or(rule);
                }
                Step::ItsCtrl(s) => {
                    s.expect_error = s.expect_error.or(errno);
                    s.expect_rule = s.expect_rule.take().or(rule);
                }
                Step::ItsCommand(s) => {
                    s.expect_creadr = Some(Num(o.value));
                    s.expect_rule = s.expect_rule.take().or(rule);
                }
                Step::ForwardMsi(s) => {
                    s.expect = Some(Num(o.value));
                    s.expect_rule = s.expect_rule.take().or(rule);
                }
                Step::UnforwardMsi(s) => {
                    s.expect = Some(Num(o.value));
                    s.expect_rule = s.expect_rule.take().or(rule);
                }
                Step::DeviceMsi(s) => {
                    if errno.is_none() && s.expect_error.is_none() {
                        s.expect = Some(Num(o.value));
                    }
                    s.expect_error = s.expect_error.or(errno);
                    s.expect_rule = s.expect_rule.take().or(rule);
                }
                _ => {}
            }
        }
        sc
    }
}

/// A scenario as indented JSON, as people write scenario files: the compact
/// serialisation (the code permalinks use too) re-indented as text, in the
/// layout of `serde_json::to_string_pretty`, which would add a second
/// serialiser of every scenario type to the wasm bundle.
pub fn to_pretty_json(sc: &Scenario) -> String {
    let compact = serde_json::to_string(sc).expect("a scenario serialises");
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    let mut chars = compact.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                // `{}` and `[]` stay on one line.
                if matches!(chars.peek(), Some('}' | ']')) {
                    out.push(chars.next().unwrap_or(' '));
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gicx_core::catalogue::Frame;
    use gicx_core::scenario::{parse, LifecycleStep, RegStep};

    fn user_write(reg: &str, value: u64) -> Step {
        Step::UserWrite(RegStep {
            reg: Some(reg.into()),
            value: Some(Num(value)),
            ..Default::default()
        })
    }

    fn init() -> Step {
        Step::Init(LifecycleStep::default())
    }

    fn enabled(s: &Session) -> Option<u64> {
        s.vgic().peek_user(Frame::Dist, 0, 0x104)
    }

    /// A migration's suggestion may change its source (nASSGIcap cleared on a 6.17
    /// source): the session passes the steps that built it, so the core can replay
    /// them with the fix, whether the step is new, redone or replayed.
    #[test]
    fn a_migration_step_suggests_fixes_that_rebuild_its_source() {
        use gicx_core::guest::GuestProfile;
        use gicx_core::host::Host;
        use gicx_core::migrate::{source_scenario, Change, HostArg, MigrateStep};
        let host = |h: &str| Host::parse_compact(h).unwrap();
        let qemu = gicx_core::vmm::recipe("qemu").unwrap();
        let sc = source_scenario(host("v4.1@6.17"), qemu, GuestProfile::Linux);
        let n = sc.steps.len();
        let mut s = Session::new(sc, n);
        let step = Step::Migrate(MigrateStep {
            to: HostArg(host("v4.0@6.17")),
            vmm: "qemu".into(),
            policy: None,
            expect_verdict: None,
            expect_error: None,
            expect_rule: None,
            expect_rules: Vec::new(),
            note: None,
        });
        let clears = |s: &Session| {
            let m = s.replay().reports[n].migration.as_ref().unwrap();
            m.suggestion
                .as_ref()
                .is_some_and(|f| f.changes.contains(&Change::ClearNassgicap))
        };
        s.push(step, &[0]).unwrap();
        assert!(clears(&s), "pushed");
        s.undo();
        s.redo();
        assert!(clears(&s), "redone");
        s.undo();
        s.undo();
        s.redo();
        s.redo();
        assert!(clears(&s), "replayed");
    }

    #[test]
    fn steps_apply_in_order_and_undo_redo_move_the_cursor() {
        let mut s = Session::default();
        let done = s.push(init(), &[0]).unwrap();
        assert_eq!(done.report.summary, "KVM_DEV_ARM_VGIC_CTRL_INIT: ok");
        let done = s.push(user_write("GICD_ISENABLER1", 0b11), &[0]).unwrap();
        assert_eq!(
            done.changes
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            ["GICD_ISENABLER1", "GICD_ICENABLER1"]
        );
        assert_eq!((s.cursor(), enabled(&s)), (2, Some(0b11)));

        s.undo();
        assert_eq!((s.cursor(), enabled(&s)), (1, Some(0)));
        assert!(s.can_redo());
        s.redo();
        assert_eq!((s.cursor(), enabled(&s)), (2, Some(0b11)));
        s.redo();
        assert_eq!(s.cursor(), 2, "nothing to redo");

        s.seek(0);
        assert!(!s.can_undo());
        s.undo();
        assert_eq!(s.cursor(), 0);
        s.seek(99);
        assert_eq!(s.cursor(), 2);
    }

    #[test]
    fn a_new_step_after_undo_drops_the_redo_branch() {
        let mut s = Session::default();
        s.push(init(), &[]).unwrap();
        s.push(user_write("GICD_ISENABLER1", 1), &[]).unwrap();
        s.undo();
        s.push(user_write("GICD_ISENABLER1", 4), &[]).unwrap();
        assert_eq!(s.steps().len(), 2);
        assert!(!s.can_redo());
        assert_eq!(enabled(&s), Some(4));
    }

    #[test]
    fn a_guest_step_before_init_is_logged_as_its_failed_kvm_run() {
        // As on real KVM: the guest runs only inside KVM_RUN, and the first one
        // fails before init (-EBUSY); on 6.17 the VM is dead from then on.
        let mut s = Session::default();
        let done = s
            .push(
                Step::GuestRead(RegStep {
                    reg: Some("GICD_CTLR".into()),
                    ..Default::default()
                }),
                &[],
            )
            .unwrap();
        let o = done.report.outcome.as_ref().unwrap();
        assert_eq!(o.errno, Some(gicx_core::errno::Errno::EBUSY));
        assert!(o.rules.iter().any(|r| r.id == "lifecycle.vm_dead"));
        assert_eq!(s.steps().len(), 1);
        assert!(s.vgic().is_dead());
        s.undo();
        assert!(!s.vgic().is_dead(), "undo brings the VM back");
    }

    #[test]
    fn the_last_steps_changes_are_found_again_after_the_fact() {
        let mut s = Session::default();
        s.push(init(), &[]).unwrap();
        let done = s.push(user_write("GICD_ISENABLER1", 1), &[]).unwrap();
        assert!(!done.changes.is_empty());
        assert_eq!(s.changes_of_last(&[]), done.changes);
    }

    #[test]
    fn impossible_steps_are_refused_and_not_logged() {
        let mut s = Session::default();
        s.push(init(), &[]).unwrap();
        let e = s
            .push(
                Step::GuestRead(RegStep {
                    reg: Some("GICD_CTLR".into()),
                    width: Some(12),
                    ..Default::default()
                }),
                &[],
            )
            .unwrap_err();
        assert_eq!(e, AccessError::BadWidth(12));
        assert_eq!(s.steps().len(), 1);
        assert_eq!(
            s.vgic().lifecycle(),
            gicx_core::vgic::Lifecycle::Initialised,
            "the refused step's KVM_RUN is not kept either"
        );
    }

    #[test]
    fn a_host_change_replays_the_log() {
        let mut s = Session::default();
        s.push(init(), &[]).unwrap();
        s.push(
            Step::UserRead(RegStep {
                reg: Some("GICD_TYPER2".into()),
                ..Default::default()
            }),
            &[],
        )
        .unwrap();
        let value = |s: &Session| s.replay().reports[1].outcome.as_ref().unwrap().value;
        assert_eq!(value(&s), 0x100, "v4.1@6.17 offers vSGIs");
        s.reconfigure(Host::parse_compact("v3@6.8").unwrap(), s.vm());
        assert_eq!(s.cursor(), 2);
        assert_eq!(value(&s), 0, "a GICv3 host does not");
    }

    #[test]
    fn a_smaller_vm_stops_the_replay_at_the_first_impossible_step() {
        let mut s = Session::default();
        s.push(init(), &[]).unwrap();
        s.push(Step::Run(LifecycleStep::default()), &[]).unwrap();
        s.push(
            Step::GuestRead(RegStep {
                reg: Some("GICD_CTLR".into()),
                vcpu: Some(3),
                ..Default::default()
            }),
            &[],
        )
        .unwrap();
        s.reconfigure(s.host(), VmConfig::new(2, 256, false).unwrap());
        assert_eq!(s.cursor(), 2);
        let stop = s.stopped().unwrap();
        assert_eq!((stop.index, stop.op), (2, "guest_read"));
        assert!(stop.to_string().contains("vCPU 3 does not exist"), "{stop}");
        assert_eq!(
            s.steps().len(),
            3,
            "the step is kept, to redo on a larger VM"
        );
        s.reconfigure(s.host(), VmConfig::default());
        s.redo();
        assert_eq!(s.cursor(), 3);
        assert!(s.stopped().is_none());
    }

    #[test]
    fn pretty_json_is_laid_out_like_serde_json() {
        let sc = parse(
            r#"{"name": "a \"quoted\" {name}, [x]: y\\", "host": {"gic": "v4.1", "kernel": "6.17"},
                "vm": {"vcpus": 2}, "steps": [{"op": "init", "note": "é, {}"}, {"op": "run"},
                {"op": "user_write", "reg": "GICD_TYPER2", "value": "0x100"}]}"#,
        )
        .unwrap();
        assert_eq!(
            to_pretty_json(&sc),
            serde_json::to_string_pretty(&sc).unwrap()
        );
        let mut empty = sc.clone();
        empty.steps.clear();
        assert_eq!(
            to_pretty_json(&empty),
            serde_json::to_string_pretty(&empty).unwrap()
        );
    }

    #[test]
    fn export_with_expectations_is_a_passing_regression_test() {
        let mut s = Session::default();
        for step in [
            user_write("GICD_TYPER2", 0),
            init(),
            user_write("GICD_TYPER2", 0x100),
            Step::Run(LifecycleStep::default()),
            Step::GuestRead(RegStep {
                reg: Some("GICD_TYPER2".into()),
                ..Default::default()
            }),
        ] {
            s.push(step, &[]).unwrap();
        }
        s.undo();
        let plain = s.export(false);
        assert_eq!(plain.steps.len(), 4, "undone steps are not exported");
        let sc = s.export(true);
        let text = to_pretty_json(&sc);
        assert!(text.contains("\"expect_error\": \"EBUSY\""), "{text}");
        let again = parse(&text).unwrap();
        let (report, _) = gicx_core::scenario::run(&again).unwrap();
        assert!(
            report.passed(),
            "{:?}",
            report.failures().collect::<Vec<_>>()
        );
    }
}
