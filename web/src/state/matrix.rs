//! The Matrix view: the form (VMM, guest profile, two policies, a cause set
//! aside), the open cell, and the audit's progress. The reducer does no heavy
//! work: the two tables (every source × destination host) are computed by an effect
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
/// policy. Heavy (twice the square of the audit's hosts, 2 × 2 500 migrations for 50): effects call
/// it, never the reducer.
pub fn compute_tables(req: &MatrixRequest) -> Tables {
    let recipe = &RECIPES[req.vmm.min(RECIPES.len() - 1)];
    let hosts = audit_hosts();
    let its = recipe.its == ItsSupport::Always;
    let table = |p| {
        // Cells show verdicts; a cell opened in Migrate is migrated in full, with its fixes.
        gicx_core::audit::matrix_without_fixes(&hosts, recipe, req.guest, p, its, 2)
            .map_err(|e| e.to_string())
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

/// The view's messages through the whole reducer ([`crate::state::AppState::apply`]).
#[cfg(test)]
mod reducer_tests {
    use crate::state::support::*;

    #[test]
    fn matrix_computes_both_policies_and_opens_cells() {
        let s = AppState::default().apply(Msg::Show(View::Matrix));
        // Shown, the view waits for its tables: App computes them once painted.
        assert!(s.matrix_pending().is_some() && s.matrix.tables.is_none());
        let s = s.computed();
        assert!(s.matrix_pending().is_none());
        let tables = s.matrix.tables.clone().unwrap();
        let m = tables[0].as_ref().unwrap();
        let hosts = &m.hosts;
        let from = hosts.iter().position(|h| h == "v4.1@5.7").unwrap();
        let to = hosts.iter().position(|h| h == "v4.0@5.7").unwrap();
        assert_eq!(m.cells[from][to].verdict.as_str(), "silently-broken");
        let s = s.apply(Msg::Matrix(MatrixMsg::OpenCell(0, from, to)));
        let d = s.matrix.detail.clone().unwrap();
        assert_eq!(
            d.as_ref().as_ref().unwrap().verdict.as_str(),
            "silently-broken"
        );
        let s = s.apply(Msg::Matrix(MatrixMsg::SetPolicy(
            1,
            RestorePolicy::AcceptAny,
        )));
        assert!(s.matrix.detail.is_none() && s.matrix_pending().is_some());
        let s = s.computed();
        assert_eq!(
            s.matrix.tables.as_ref().unwrap()[1]
                .as_ref()
                .unwrap()
                .policy,
            RestorePolicy::AcceptAny
        );
        let s = s
            .apply(Msg::Matrix(MatrixMsg::CloseCell))
            .apply(Msg::Matrix(MatrixMsg::AuditStart));
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
        let hosts = gicx_core::audit::audit_hosts();
        let s = s
            .apply(Msg::Matrix(MatrixMsg::SetVmm(qemu)))
            .apply(Msg::Matrix(MatrixMsg::SetPolicy(
                1,
                RestorePolicy::AcceptAny,
            )))
            .apply(Msg::Show(View::Matrix))
            .computed()
            .apply(Msg::Matrix(MatrixMsg::OpenCell(1, 0, 3)));
        let link = s.permalink();
        let expected = serde_json::json!({
            "vmm": "qemu",
            "guest": "linux",
            "policies": ["kernel", "accept-any"],
            "cell": {"table": 1, "from": hosts[0].compact(), "to": hosts[3].compact()},
        });
        assert_eq!(link.views.get("matrix"), Some(&expected));
        // A link made before the serde structs, with the text form, opens the same.
        let old_text = format!(
            "qemu linux kernel accept-any 1:{}>{}",
            hosts[0].compact(),
            hosts[3].compact()
        );
        let mut old = link.clone();
        old.views.insert("matrix".into(), old_text.into());
        assert_eq!(AppState::restore(old, None).matrix.link(), s.matrix.link());
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
        assert!(back.matrix_pending().is_some());
        let back = back.computed();
        assert_eq!(back.matrix.link(), s.matrix.link());
        assert!(back.matrix.tables.is_some());
        assert_eq!(verdict(&back), verdict(&s));
        assert!(
            back.work.banners.list().is_empty(),
            "{:?}",
            back.work.banners.list()
        );

        // Closing the cell or changing the form changes the link.
        let key = s.link_key();
        assert_ne!(
            s.clone()
                .apply(Msg::Matrix(MatrixMsg::CloseCell))
                .link_key(),
            key
        );

        // Landing on another view: the tables wait until Matrix is shown, and the
        // cell opens then; a read-only embed computes them too.
        let mut elsewhere = link.clone();
        elsewhere.view = "registers".into();
        let r = AppState::restore(elsewhere, None);
        assert!(r.matrix.tables.is_none() && r.matrix.detail.is_none());
        assert!(r.matrix_pending().is_none());
        let r = r.apply(Msg::Show(View::Matrix)).computed();
        assert_eq!(verdict(&r), verdict(&s));
        let embed = AppState::restore(link.clone(), Some(Embed::ReadOnly));
        let embed = embed.computed();
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
                r.work
                    .banners
                    .list()
                    .iter()
                    .any(|b| b.detail.starts_with("views.matrix: ")),
                "{bad}: {:?}",
                r.work.banners.list()
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
            s.matrix_pending().is_some(),
            "App computes the tables after the first paint"
        );
        assert!(s.computed().matrix.tables.is_some());
    }

    #[test]
    fn the_audit_runs_in_slices_to_the_counts_the_core_audit_gives() {
        use crate::explore::AuditRunner;
        let mut s = AppState::default();
        // A slice of the space, so the test is quick in a debug build.
        s.matrix.audit_options.hosts = ["v4.1@5.7", "v4.0@6.8", "v4.1@6.17"]
            .iter()
            .map(|h| gicx_core::host::Host::parse_compact(h).unwrap())
            .collect();
        let expected = gicx_core::audit::audit(&s.matrix.audit_options)
            .unwrap()
            .per_policy;
        // Stopped, a run's late answers change nothing.
        let stopped = s
            .clone()
            .apply(Msg::Matrix(MatrixMsg::AuditStart))
            .apply(Msg::Matrix(MatrixMsg::AuditStop));
        assert!(matches!(stopped.matrix.audit, AuditRun::Idle));
        let mut late = AuditRunner::new(1, &stopped.matrix.audit_options);
        let late = stopped.apply(Msg::Matrix(late.slice(0.0, &|| 0.0)));
        assert!(matches!(late.matrix.audit, AuditRun::Idle));

        // What App's effect does: a runner for the run, slices of the minimum
        // budget (one piece each, each moving the key on) under a clock that the
        // test holds still, and each slice's message to the reducer.
        let mut s = s.apply(Msg::Matrix(MatrixMsg::AuditStart));
        let (run, _) = s.matrix.audit.running_at().unwrap();
        let mut runner = AuditRunner::new(run, &s.matrix.audit_options);
        let mut at = Vec::new();
        while s.matrix.audit.running_at().is_some() {
            s = s.apply(Msg::Matrix(runner.slice(0.0, &|| 0.0)));
            if let Some((_, n)) = s.matrix.audit.running_at() {
                at.push(n);
            }
        }
        let total = at.len() + 1;
        assert_eq!(at, (1..total).collect::<Vec<_>>());
        let AuditRun::Done(rows) = &s.matrix.audit else {
            panic!("{:?}", s.matrix.audit);
        };
        let got: Vec<_> = rows.iter().map(|r| (r.policy, r.counts)).collect();
        let want: Vec<_> = expected.iter().map(|r| (r.policy, r.counts)).collect();
        assert_eq!(got, want);
    }
}
