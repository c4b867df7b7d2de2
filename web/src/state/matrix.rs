//! The Matrix view: the form (VMM, guest profile, two policies, a cause set
//! aside), the open cell, and the audit's progress. The reducer does no heavy
//! work: the two tables of 35 × 35 migrations are computed by an effect
//! ([`compute_tables`], after a paint) and arrive as [`MatrixMsg::Tables`];
//! the audit runs in slices in an effect ([`crate::explore::AuditRunner`])
//! and arrives as [`MatrixMsg::AuditProgress`] and [`MatrixMsg::AuditDone`].

use std::rc::Rc;

use gicx_core::audit::{audit_hosts, Matrix, PolicyCounts, Progress};
use gicx_core::guest::GuestProfile;
use gicx_core::host::Host;
use gicx_core::migrate::{migrate, MigrationSpec};
use gicx_core::vgic::RestorePolicy;
use gicx_core::vmm::{ItsSupport, RECIPES};

use crate::explore::{AuditRun, MatrixForm, SET_ASIDE};

/// The two tables, one per policy.
pub type Tables = Rc<[Result<Matrix, String>; 2]>;

/// What the tables are computed for: the form's VMM, guest and policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatrixRequest {
    pub vmm: usize,
    pub guest: GuestProfile,
    pub policies: [RestorePolicy; 2],
}

/// What a person (or an effect, with its results) does in the Matrix view.
#[derive(Clone, Debug)]
pub enum MatrixMsg {
    /// Index in [`RECIPES`].
    SetVmm(usize),
    SetGuest(GuestProfile),
    /// Which of the two tables, and its policy.
    SetPolicy(usize, RestorePolicy),
    /// Set a cause aside (a rule id of [`SET_ASIDE`]), or none.
    SetAside(Option<&'static str>),
    /// Open a cell: table, source and destination host positions.
    OpenCell(usize, usize, usize),
    CloseCell,
    /// The tables computed for a request (by an effect, [`compute_tables`]);
    /// dropped if the form has moved on.
    Tables(MatrixRequest, Tables),
    /// "Run audit": a new run, which an effect then steps in slices.
    AuditStart,
    /// How far run `run` is.
    AuditProgress {
        run: u64,
        progress: Progress,
    },
    /// Run `run` finished: each policy's counts, or why it failed.
    AuditDone {
        run: u64,
        result: Result<Rc<Vec<PolicyCounts>>, String>,
    },
    /// "Stop": drop the running audit.
    AuditStop,
}

/// Both tables for `req`: every source × destination migration under each
/// policy. Heavy (2 × 1 225 migrations, ~0.3 s in the browser): effects call
/// it, never the reducer.
pub fn compute_tables(req: &MatrixRequest) -> Tables {
    let recipe = &RECIPES[req.vmm.min(RECIPES.len() - 1)];
    let hosts = audit_hosts();
    let its = recipe.its == ItsSupport::Always;
    let table = |p| {
        gicx_core::audit::matrix(&hosts, recipe, req.guest, p, its, 2).map_err(|e| e.to_string())
    };
    Rc::new([table(req.policies[0]), table(req.policies[1])])
}

impl MatrixForm {
    /// What the tables are (to be) computed for.
    pub fn request(&self) -> MatrixRequest {
        MatrixRequest {
            vmm: self.vmm,
            guest: self.guest,
            policies: self.policies,
        }
    }

    /// Apply one message.
    pub fn apply(&mut self, msg: MatrixMsg) {
        match msg {
            MatrixMsg::SetVmm(i) => {
                self.vmm = i.min(RECIPES.len() - 1);
                self.invalidate();
            }
            MatrixMsg::SetGuest(g) => {
                self.guest = g;
                self.invalidate();
            }
            MatrixMsg::SetPolicy(t, p) => {
                self.policies[t.min(1)] = p;
                self.invalidate();
            }
            MatrixMsg::SetAside(rule) => self.aside = rule.filter(|r| SET_ASIDE.contains(r)),
            MatrixMsg::OpenCell(t, from, to) => {
                let hosts = audit_hosts();
                if let (Some(&f), Some(&d)) = (hosts.get(from), hosts.get(to)) {
                    self.open_cell(t.min(1), f, d);
                }
            }
            MatrixMsg::CloseCell => {
                self.cell = None;
                self.detail = None;
            }
            MatrixMsg::Tables(req, tables) => {
                if req != self.request() || self.tables.is_some() {
                    return; // Computed for a form that has changed since.
                }
                self.tables = Some(tables);
                self.detail = None;
                // A link's open cell waits for its tables.
                if let Some((t, from, to)) = self.cell.take() {
                    self.open_cell(t, from, to);
                }
            }
            MatrixMsg::AuditStart => {
                if self.audit.running_at().is_none() {
                    self.audit_runs += 1;
                    self.audit = AuditRun::Running {
                        run: self.audit_runs,
                        progress: Progress { done: 0, total: 0 },
                    };
                }
            }
            MatrixMsg::AuditProgress { run, progress } => {
                if let AuditRun::Running { run: r, .. } = self.audit {
                    if r == run {
                        self.audit = AuditRun::Running { run, progress };
                    }
                }
            }
            MatrixMsg::AuditDone { run, result } => {
                if matches!(self.audit, AuditRun::Running { run: r, .. } if r == run) {
                    self.audit = match result {
                        Ok(rows) => AuditRun::Done(rows),
                        Err(e) => AuditRun::Failed(e),
                    };
                }
            }
            MatrixMsg::AuditStop => {
                if self.audit.running_at().is_some() {
                    self.audit = AuditRun::Idle;
                }
            }
        }
    }

    /// The form changed: the tables (and any open cell) are out of date.
    fn invalidate(&mut self) {
        self.tables = None;
        self.cell = None;
        self.detail = None;
    }

    /// Open the cell of table `t` for a migration `from` → `to`, replayed in full
    /// (one migration).
    fn open_cell(&mut self, t: usize, from: Host, to: Host) {
        let t = t.min(1);
        let recipe = &RECIPES[self.vmm.min(RECIPES.len() - 1)];
        let mut spec = MigrationSpec::new(from, to, recipe, self.guest);
        spec.policy = self.policies[t];
        self.cell = Some((t, from, to));
        self.detail = Some(Rc::new(migrate(&spec).map_err(|e| e.to_string())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_for_an_old_form_are_dropped_and_a_waiting_cell_opens() {
        let mut m = MatrixForm::default();
        let old = m.request();
        m.apply(MatrixMsg::SetGuest(GuestProfile::Idle));
        let stale: Tables = Rc::new([Err("old".into()), Err("old".into())]);
        m.apply(MatrixMsg::Tables(old, stale));
        assert!(m.tables.is_none(), "computed for another guest");
        let hosts = audit_hosts();
        m.cell = Some((1, hosts[0], hosts[1]));
        let fresh: Tables = Rc::new([Err("a".into()), Err("b".into())]);
        m.apply(MatrixMsg::Tables(m.request(), fresh));
        assert!(m.tables.is_some());
        assert_eq!(m.cell, Some((1, hosts[0], hosts[1])));
        assert!(m.detail.is_some(), "the link's cell is opened");
    }

    #[test]
    fn audit_messages_of_another_run_are_ignored() {
        let mut m = MatrixForm::default();
        m.apply(MatrixMsg::AuditStart);
        assert_eq!(m.audit.running_at(), Some((1, 0)));
        let p = Progress { done: 3, total: 9 };
        m.apply(MatrixMsg::AuditProgress {
            run: 7,
            progress: p,
        });
        assert_eq!(m.audit.running_at(), Some((1, 0)));
        m.apply(MatrixMsg::AuditProgress {
            run: 1,
            progress: p,
        });
        assert_eq!(m.audit.running_at(), Some((1, 3)));
        m.apply(MatrixMsg::AuditStop);
        assert_eq!(m.audit.running_at(), None);
        m.apply(MatrixMsg::AuditDone {
            run: 1,
            result: Err("late".into()),
        });
        assert!(
            matches!(m.audit, AuditRun::Idle),
            "a stopped run stays stopped"
        );
        m.apply(MatrixMsg::AuditStart);
        assert_eq!(m.audit.running_at(), Some((2, 0)), "a new run");
    }
}
