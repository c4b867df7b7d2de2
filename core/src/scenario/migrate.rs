//! The scenario `migrate` step: its fields, validation and run (a migration
//! from the scenario's VM, whose steps are its origin).

#[allow(unused_imports)]
use super::*;
#[allow(unused_imports)]
use crate::migrate::*;
use crate::vgic::RestorePolicy;
use crate::{scenario, vmm};
use std::collections::BTreeSet;

// ---- the scenario step ------------------------------------------------------------------------

/// `{"errno": "EINVAL", "reg": "GICD_TYPER2"}`: the restore must stop there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectRefusal {
    pub errno: ErrnoName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reg: Option<String>,
}

/// A restore policy by its name (`kernel`, `accept-any`, `relaxed-2020`), as the CLI
/// and scenario files spell it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicyArg(pub RestorePolicy);

impl Serialize for PolicyArg {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for PolicyArg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map(PolicyArg).map_err(serde::de::Error::custom)
    }
}

/// Serialize a policy by its name (`relaxed-2020`).
pub fn serialize_policy<S: serde::Serializer>(p: &RestorePolicy, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.as_str())
}

/// A host written as a JSON object or in the compact form (`"v4.1@6.17"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostArg(pub Host);

impl Serialize for HostArg {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.compact())
    }
}

impl<'de> Deserialize<'de> for HostArg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        match v {
            serde_json::Value::String(s) => Host::parse_compact(&s)
                .map(HostArg)
                .map_err(serde::de::Error::custom),
            other => Host::deserialize(other)
                .map(HostArg)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// The `migrate` step: save the VM with `vmm`, restore it on `to`, run it; later
/// steps run on the destination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrateStep {
    pub to: HostArg,
    pub vmm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyArg>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_verdict: Option<Verdict>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_error: Option<ExpectRefusal>,
    /// A rule id the migration must involve: in its refusal, its differences, its
    /// verdict or any access of its restore log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    /// Several rule ids, each of which the migration must involve.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_rules: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Check a `migrate` step against the scenario's VM (at `path`, e.g. `steps[4]`).
pub fn validate_step(s: &MigrateStep, vm: &VmConfig, path: &str) -> Result<(), ScenarioError> {
    let recipe =
        vmm::recipe(&s.vmm).map_err(|e| ScenarioError::at(format!("{path}.vmm"), e.to_string()))?;
    if vm.nr_irqs != recipe.nr_irqs {
        return Err(ScenarioError::at(
            format!("{path}.vmm"),
            format!(
                "{} creates its vGIC with NR_IRQS {} ({}); set vm.nr_irqs to {}",
                recipe.id, recipe.nr_irqs, recipe.nr_irqs_note, recipe.nr_irqs
            ),
        ));
    }
    if let Err(e) = check_its(recipe, vm.its) {
        return Err(ScenarioError::at(
            format!("{path}.vmm"),
            format!("{e} (vm.its)"),
        ));
    }
    for (i, id) in s.expect_rules.iter().enumerate() {
        if crate::rules::by_id(id).is_none() {
            return Err(ScenarioError::at(
                format!("{path}.expect_rules[{i}]"),
                format!("unknown rule id {id:?} (see `gicx rules`)"),
            ));
        }
    }
    if let Some(reg) = s.expect_error.as_ref().and_then(|e| e.reg.as_deref()) {
        catalogue::lookup(reg)
            .map_err(|e| ScenarioError::at(format!("{path}.expect_error.reg"), e.to_string()))?;
    }
    Ok(())
}

/// Run a `migrate` step: `vm` becomes the destination. With the VM's origin, the
/// suggested fixes may change the source too (see [`migrate_vm_from`]).
pub fn run_step(
    vm: &mut Vgic,
    origin: Option<scenario::Origin>,
    index: usize,
    s: &MigrateStep,
) -> StepReport {
    let mut failures = Vec::new();
    let policy = s.policy.unwrap_or_default().0;
    let result = vmm::recipe(&s.vmm)
        .map_err(|e| MigrateError::Source(e.to_string()))
        .and_then(|recipe| migrate_vm_from(vm, origin, s.to.0, recipe, policy));
    let (summary, migration) = match result {
        Err(e) => {
            failures.push(e.to_string());
            (format!("migrate with {} to {}: {e}", s.vmm, s.to.0), None)
        }
        Ok((m, dst)) => {
            *vm = dst;
            if let Some(want) = s.expect_verdict {
                if m.verdict != want {
                    failures.push(format!(
                        "expected verdict {want}, got {} ({})",
                        m.verdict,
                        m.reasons().join("; ")
                    ));
                }
            }
            match (&s.expect_error, &m.refusal) {
                (Some(e), Some(f)) => {
                    if e.errno.0 != f.errno {
                        failures.push(format!(
                            "expected the restore to stop with {}, it stopped with {} at {}",
                            e.errno.0, f.errno, f.register
                        ));
                    }
                    if let Some(reg) = &e.reg {
                        if !reg.eq_ignore_ascii_case(&f.register) {
                            failures.push(format!(
                                "expected the restore to stop at {reg}, it stopped at {}",
                                f.register
                            ));
                        }
                    }
                }
                (Some(e), None) => failures.push(format!(
                    "expected the restore to stop with {}, it was accepted",
                    e.errno.0
                )),
                (None, Some(f))
                    if !matches!(
                        s.expect_verdict,
                        Some(Verdict::Rejected | Verdict::NeedlesslyRejected)
                    ) =>
                {
                    failures.push(format!(
                        "expected the restore to be accepted, it stopped with {} at {}",
                        f.errno, f.register
                    ))
                }
                _ => {}
            }
            let involved: BTreeSet<&str> = m
                .rules
                .iter()
                .copied()
                .chain(
                    m.restore_log
                        .iter()
                        .chain(&m.safety_log)
                        .flat_map(|e| e.rules.iter().copied()),
                )
                .collect();
            for id in s.expect_rule.iter().chain(&s.expect_rules) {
                if !involved.contains(id.as_str()) {
                    failures.push(format!(
                        "expected rule {id}, the migration involved [{}]",
                        m.rules.join(", ")
                    ));
                }
            }
            let what = match &m.refusal {
                Some(f) => format!("refused ({} at {})", f.errno, f.register),
                None => "accepted".into(),
            };
            (
                format!(
                    "migrate with {} to {} ({}): {what}, {}",
                    m.vmm,
                    m.to,
                    policy.as_str(),
                    m.verdict
                ),
                Some(Box::new(m)),
            )
        }
    };
    let mut rep = StepReport {
        index,
        op: "migrate",
        summary,
        outcome: None,
        failures,
        note: s.note.clone(),
        migration: None,
    };
    rep.migration = migration;
    rep
}
