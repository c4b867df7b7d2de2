//! Real KVM as the oracle: what one scenario step observably did, the
//! recordings `gicx-kvm` makes of real kernels, and their comparison with the
//! model.
//!
//! A step's *observation* is what a VMM or a guest can see of it on real KVM:
//! the value a read returned, the errno an ioctl failed with, or the exception
//! a guest instruction took. Nothing else (rules, notes, traces) is compared:
//! those are the model's explanation, not KVM's behaviour. The runner
//! (`kvm/`, binary `gicx-kvm`) produces one [`Observed`] per step from the
//! real kernel; [`observe`] produces the same from the model's
//! [`StepReport`]; [`compare`] lists where they differ.
//!
//! Recordings of real kernels ([`Recording`], `tests/kvm/<kernel>/<kind>/<scenario>.json`)
//! are the project's oracle: `core/tests/recordings.rs` replays every one
//! against the model with the recording's exact host and fails on any
//! difference.

use serde::{Deserialize, Serialize};

use crate::host::{GicHw, Host, HostError, KernelVersion};
use crate::rules;
use crate::scenario::{Num, Scenario, Step, StepReport};

/// What one step observably did: a value, an errno, a guest exception, or
/// nothing (a write that succeeded). `na` says why a step could not be carried
/// out on real KVM at all (e.g. `schedule`, which no ioctl expresses).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observed {
    pub index: usize,
    pub op: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Num>,
    /// An errno name (`"EINVAL"`); any Linux errno, not only the model's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<String>,
    /// A guest exception instead of a result: `"undef"` (or `"abort"`, with the
    /// ESR in `value` when the runner saw one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
    /// Not applicable: why this step has no real-KVM counterpart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub na: Option<String>,
}

impl Observed {
    pub fn new(index: usize, op: &str) -> Observed {
        Observed {
            index,
            op: op.to_string(),
            ..Observed::default()
        }
    }

    /// One line: `0x3b`, `EBUSY`, `undef`, `ok`, or `n/a (...)`.
    pub fn result_text(&self) -> String {
        if let Some(why) = &self.na {
            return format!("n/a ({why})");
        }
        if let Some(e) = &self.exception {
            return match self.value {
                Some(v) => format!("{e} (ESR {:#x})", v.0),
                None => e.clone(),
            };
        }
        if let Some(e) = &self.errno {
            return e.clone();
        }
        match self.value {
            Some(v) => format!("{:#x}", v.0),
            None => "ok".into(),
        }
    }
}

/// Why a step has no real-KVM counterpart, or `None` when the runner executes it.
pub fn not_applicable(step: &Step) -> Option<&'static str> {
    match step {
        Step::Schedule(_) => Some(
            "no ioctl moves a vCPU on or off a physical CPU; KVM does it when the vCPU thread runs or blocks",
        ),
        Step::Migrate(_) => Some(
            "a migration is two boots (save on one kernel, restore on another): scripts/kvm --migrations runs those",
        ),
        Step::ForwardMsi(_) | Step::UnforwardMsi(_) | Step::DeviceMsi(_) => Some(NEEDS_VFIO),
        _ => None,
    }
}

/// Why the GICv4 direct-injection steps (`forward_msi`, `unforward_msi`,
/// `device_msi`) have no run in the harness, and why later steps are not
/// compared either (the model's VM has vLPIs the runner's has not).
pub const NEEDS_VFIO: &str = "needs a PCI device assigned with VFIO whose MSIs KVM can forward (an IRQ bypass producer): the harness's guest has none; run gicx-kvm natively on a GICv4 host with a passthrough device";

/// Why steps after a `migrate` are not compared within one boot.
pub const AFTER_MIGRATION: &str = "after a migration the model runs on the destination's VM, the runner still on the source's: one boot cannot compare them";

/// Does this op return a value when it succeeds?
pub fn op_reads(op: &str) -> bool {
    matches!(
        op,
        "guest_read"
            | "user_read"
            | "level_info_read"
            | "cpu_sysregs_read"
            | "sysreg_read"
            | "ack"
            | "get_addr"
            | "mem_read"
            // KVM_SIGNAL_MSI's return value: 1 delivered, 0 blocked.
            | "msi"
            // GITS_CREADR after the command.
            | "its_command"
            // A resample eventfd's counter.
            | "eventfd_read"
    )
}

/// Does this op report an errno when KVM refuses it? (Guest instructions never
/// fail with an errno: KVM reads as zero, ignores, or injects an exception.)
fn op_has_errno(op: &str) -> bool {
    !matches!(
        op,
        "guest_read"
            | "guest_write"
            | "sysreg_read"
            | "sysreg_write"
            | "ack"
            | "eoi"
            | "deactivate"
            | "sgi"
            | "its_command"
            // write() on an eventfd: no ioctl.
            | "irqfd_signal"
            | "eventfd_read"
    )
}

/// The model's observation of one step, in the shape the runner records.
pub fn observe(step: &Step, report: &StepReport) -> Observed {
    let mut o = Observed::new(report.index, report.op);
    if let Some(why) = not_applicable(step) {
        o.na = Some(why.to_string());
        return o;
    }
    let Some(out) = &report.outcome else {
        return o;
    };
    let undef = out.rules.iter().any(|r| {
        std::ptr::eq(*r, &rules::CPUIF_UNDEF) || std::ptr::eq(*r, &rules::SGI1R_READ_UNDEF)
    });
    if out
        .rules
        .iter()
        .any(|r| std::ptr::eq(*r, &rules::CPUIF_UNLOADED))
    {
        o.na = Some(CPUIF_UNLOADED_WHY.into());
        return o;
    }
    if undef {
        o.exception = Some("undef".into());
        return o;
    }
    if out
        .rules
        .iter()
        .any(|r| std::ptr::eq(*r, &rules::GUEST_UNMAPPED_DIST_EXITS))
    {
        // The runner sees the exit itself (KVM_EXIT_MMIO at the address).
        let dir = if out.op == crate::vgic::Op::Write {
            "write"
        } else {
            "read"
        };
        o.exception = Some(format!(
            "mmio-exit {dir} {:#x}",
            GUEST_DIST_BASE + out.offset as u64
        ));
        return o;
    }
    if let Some(e) = out.errno {
        // A guest step is a KVM_RUN: when that ioctl fails (before init, or
        // -EIO on a dead VM) the runner sees its errno, whatever the op.
        if op_has_errno(report.op) || out.op == crate::vgic::Op::Run {
            o.errno = Some(e.as_str().to_string());
            return o;
        }
    }
    if op_reads(report.op) {
        o.value = Some(Num(out.value));
    }
    o
}

/// The model's observations of a whole scenario, stopping where the model
/// refuses a step as impossible (the error is returned beside them).
pub fn observe_scenario(sc: &Scenario) -> (Vec<Observed>, Option<String>) {
    let (out, _, err) = observe_with_rules(sc);
    (out, err)
}

/// [`observe_scenario`], with the ids of the rules each step applied (its
/// outcome's and its trace's), for [`confirmed_rules`].
pub fn observe_with_rules(
    sc: &Scenario,
) -> (Vec<Observed>, Vec<Vec<&'static str>>, Option<String>) {
    let mut vm = crate::vgic::Vgic::new(sc.host, sc.vm);
    let mut out = Vec::with_capacity(sc.steps.len());
    let mut applied: Vec<Vec<&'static str>> = Vec::with_capacity(sc.steps.len());
    let mut after: Option<&'static str> = None;
    for (index, step) in sc.steps.iter().enumerate() {
        if let Some(why) = after {
            // The model's VM is now the destination's (or has vLPIs); one boot of
            // the runner only has the source's. `scripts/kvm --migrations` compares those.
            let mut o = Observed::new(index, step.op());
            o.na = Some(why.into());
            out.push(o);
            applied.push(Vec::new());
            continue;
        }
        after = match step {
            Step::Migrate(_) => Some(AFTER_MIGRATION),
            Step::ForwardMsi(_) | Step::UnforwardMsi(_) | Step::DeviceMsi(_) => Some(NEEDS_VFIO),
            _ => None,
        };
        match crate::scenario::run_step(&mut vm, index, step) {
            Ok(rep) => {
                out.push(observe(step, &rep));
                let mut ids: Vec<&'static str> = Vec::new();
                if let Some(o) = &rep.outcome {
                    ids.extend(o.rules.iter().map(|r| r.id));
                    for h in &o.trace {
                        if let Some(r) = h.rule.as_deref().and_then(rules::by_id) {
                            ids.push(r.id);
                        }
                    }
                }
                ids.sort_unstable();
                ids.dedup();
                applied.push(ids);
            }
            Err(e) => {
                return (
                    out,
                    applied,
                    Some(format!("steps[{index}] ({}): {e}", step.op())),
                )
            }
        }
    }
    (out, applied, None)
}

/// The rules a recording confirms: those applied by a step whose value,
/// errno or exception the real kernel reproduced.
pub fn confirmed_rules(sc: &Scenario, rec: &Recording) -> Result<Vec<&'static str>, String> {
    if rec.crash.is_some() {
        return Ok(Vec::new());
    }
    let sc = with_recorded_host(sc, rec)?;
    let (model, applied, _) = observe_with_rules(&sc);
    let mut ids = Vec::new();
    for (i, m) in model.iter().enumerate() {
        let Some(k) = rec.steps.get(i) else { break };
        if m.na.is_some() || k.na.is_some() {
            continue;
        }
        if m.value == k.value && m.errno == k.errno && m.exception == k.exception {
            ids.extend(applied[i].iter().copied());
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Why a CPU-interface step of a vCPU running before init is not compared.
pub const CPUIF_UNLOADED_WHY: &str = "the vCPU runs before the vGIC is initialised (a failed first KVM_RUN before 5.16): kvm_vgic_load loaded no CPU-interface state, so its ICC registers hold what the physical CPU last held";

/// Where `gicx-kvm` places the distributor in every VM's guest-physical
/// space (QEMU `virt`'s layout): an access that exits to the VMM
/// (`KVM_EXIT_MMIO`) is reported at this base plus the register's offset.
pub const GUEST_DIST_BASE: u64 = 0x0800_0000;

/// The host kind QEMU's `virt` machine provides, as the harness boots it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HostKind {
    /// `gic-version=3`.
    #[serde(rename = "v3")]
    V3,
    /// `gic-version=4`, `kvm-arm.vgic_v4_enable=1`.
    #[serde(rename = "v4.0")]
    V4_0,
    /// `gic-version=4`, `kvm-arm.vgic_v4_enable=0`.
    #[serde(rename = "v4.0+nov4")]
    V4_0NoV4,
    /// A GICv4.1 host with a v4.1 CPU interface: real hardware only, never QEMU.
    #[serde(rename = "v4.1")]
    V4_1,
}

/// Why scenarios for GICv4.1 hosts are checked on real hardware only.
pub const NEEDS_GICV4_1: &str = "needs GICv4.1 hardware: QEMU models GICv4.0 only (its commit 526b33e4), so nASSGIcap and vSGIs cannot be observed under emulation; run gicx-kvm natively on a GICv4.1 host";

/// Why scenarios for GICv5 hosts are never checked under QEMU: the harness's
/// QEMU (7.2, Debian bookworm) has no GICv5 model at all (`gic-version` takes
/// 2, 3, 4, host or max in hw/arm/virt.c), and the GICv5 model QEMU added
/// later (hw/intc/arm_gicv5.c, Linaro 2025, at qemu/qemu 3fcf6e1097d4) says
/// "We don't implement virtualization yet" (IRS_IDR3/IDR4 zero, Non-secure
/// domain only) and has no FEAT_GCIE_LEGACY, so no KVM can run on it as a
/// GICv5 host.
pub const NEEDS_GICV5: &str = "needs GICv5 hardware with FEAT_GCIE_LEGACY: the harness's QEMU 7.2 has no GICv5 model, and QEMU's later hw/intc/arm_gicv5.c (3fcf6e1097d4) implements no virtualization (IRS_IDR3/IDR4 zero) and no FEAT_GCIE_LEGACY; run gicx-kvm natively on a GICv5 host";

impl HostKind {
    /// The kinds QEMU's `virt` machine can be booted as.
    pub const QEMU: [HostKind; 3] = [HostKind::V3, HostKind::V4_0, HostKind::V4_0NoV4];

    pub fn as_str(self) -> &'static str {
        match self {
            HostKind::V3 => "v3",
            HostKind::V4_0 => "v4.0",
            HostKind::V4_0NoV4 => "v4.0+nov4",
            HostKind::V4_1 => "v4.1",
        }
    }

    /// The model's host for a real kernel of this kind. QEMU's emulated CPU
    /// interface has 24 INTID bits (`ich_vtr_read`: IDbits = 1) where common
    /// silicon has 16: a property of the host, not of KVM.
    pub fn host(self, kernel: KernelVersion) -> Result<Host, HostError> {
        match self {
            // QEMU's CPU interface: 24 INTID bits, all 8 VPMR bits read back.
            HostKind::V3 => Ok(Host::new(GicHw::V3, false, true, kernel)?
                .with_cpuif_id_bits(24)?
                .with_cpuif_pmr_all_bits(true)),
            HostKind::V4_0 => Ok(Host::new(GicHw::V4_0, false, true, kernel)?
                .with_cpuif_id_bits(24)?
                .with_cpuif_pmr_all_bits(true)),
            HostKind::V4_0NoV4 => Ok(Host::new(GicHw::V4_0, false, false, kernel)?
                .with_cpuif_id_bits(24)?
                .with_cpuif_pmr_all_bits(true)),
            HostKind::V4_1 => Host::new(GicHw::V4_1, true, true, kernel),
        }
    }
}

/// The kernel a recording was made on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedKernel {
    /// The series, `6.12`.
    pub series: String,
    /// The upstream version the model runs with, `6.12.118`.
    pub upstream: String,
    /// Debian's package version, `6.12.118-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debian: Option<String>,
    /// `uname -r` as the runner saw it.
    #[serde(default)]
    pub release: String,
    /// `/proc/version`.
    #[serde(default)]
    pub proc_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
}

/// One scenario as one real kernel ran it: the file `gicx-kvm` printed, plus
/// what the harness knows of the kernel and QEMU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// The scenario file the steps came from (its name, as packed).
    pub file: String,
    /// That file's path in the repository (`tests/scenarios/gicr-iidr.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    pub kernel: RecordedKernel,
    /// The host kind booted.
    pub kind: HostKind,
    /// The runner's account of the host (ICH_VTR_EL2-derived properties, the
    /// GIC version QEMU was asked for, the command line).
    #[serde(default)]
    pub host: serde_json::Value,
    pub steps: Vec<Observed>,
    /// Setting the VM up failed before the first step (the message says where).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_error: Option<String>,
    /// The kernel crashed (oopsed) running this scenario, twice: no steps.
    /// Not a model difference; `scripts/kvm` says where and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash: Option<String>,
}

impl Recording {
    /// The scenario file's stem: from `scenario`, else `file` without the
    /// harness's `NNNN-` ordering prefix.
    pub fn stem(&self) -> &str {
        let name = self
            .scenario
            .as_deref()
            .map(|p| p.rsplit('/').next().unwrap_or(p))
            .unwrap_or(&self.file);
        let name = name.strip_suffix(".json").unwrap_or(name);
        match name.split_once('-') {
            Some((n, rest))
                if self.scenario.is_none()
                    && n.len() == 4
                    && n.bytes().all(|b| b.is_ascii_digit()) =>
            {
                rest
            }
            _ => name,
        }
    }

    /// The kernel as named in listings: Debian's version, else upstream.
    pub fn kernel_name(&self) -> &str {
        self.kernel
            .debian
            .as_deref()
            .unwrap_or(&self.kernel.upstream)
    }
}

/// One step where model and kernel disagree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub index: usize,
    pub op: String,
    pub model: String,
    pub kernel: String,
}

/// The comparison of one scenario on one kernel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// The kernel crashed on this scenario (nothing compared).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crashed: Option<String>,
    /// Steps both executed and compared.
    pub compared: usize,
    /// Steps the kernel could not express (`na`).
    pub not_applicable: usize,
    pub differences: Vec<Difference>,
}

/// Compare the model's observations with the kernel's, step by step. A step
/// the model refused as impossible (`model_error`) and the kernel ran is a
/// difference; `na` steps are counted, not compared.
pub fn compare(model: &[Observed], model_error: Option<&str>, kernel: &[Observed]) -> Comparison {
    let mut c = Comparison::default();
    let n = model.len().max(kernel.len());
    for i in 0..n {
        match (model.get(i), kernel.get(i)) {
            (Some(m), Some(k)) => {
                if m.na.is_some() || k.na.is_some() {
                    c.not_applicable += 1;
                    continue;
                }
                c.compared += 1;
                if m.value != k.value || m.errno != k.errno || m.exception != k.exception {
                    c.differences.push(Difference {
                        index: i,
                        op: k.op.clone(),
                        model: m.result_text(),
                        kernel: k.result_text(),
                    });
                }
            }
            (None, Some(k)) => c.differences.push(Difference {
                index: i,
                op: k.op.clone(),
                model: model_error
                    .map(|e| format!("refused: {e}"))
                    .unwrap_or_else(|| "no step".into()),
                kernel: k.result_text(),
            }),
            (Some(m), None) => c.differences.push(Difference {
                index: i,
                op: m.op.clone(),
                model: m.result_text(),
                kernel: "no result (the runner stopped)".into(),
            }),
            (None, None) => {}
        }
    }
    c
}

/// Run `sc` on the model as the recorded kernel would: its host replaced by
/// the recording's kind at the recording's exact kernel version.
pub fn replay(sc: &Scenario, rec: &Recording) -> Result<Comparison, String> {
    if let Some(c) = &rec.crash {
        return Ok(Comparison {
            crashed: Some(c.clone()),
            ..Comparison::default()
        });
    }
    let sc = with_recorded_host(sc, rec)?;
    let (model, err) = observe_scenario(&sc);
    Ok(compare(&model, err.as_deref(), &rec.steps))
}

/// The scenario on the recording's host: its kind at its exact kernel version.
fn with_recorded_host(sc: &Scenario, rec: &Recording) -> Result<Scenario, String> {
    let kernel: KernelVersion = rec
        .kernel
        .upstream
        .parse()
        .map_err(|e: HostError| format!("kernel.upstream: {e}"))?;
    let host = rec
        .kind
        .host(kernel)
        .map_err(|e| format!("kernel.upstream: {e}"))?;
    let mut sc = sc.clone();
    sc.host = host;
    if let Some(e) = &rec.setup_error {
        return Err(format!("the kernel could not set the VM up: {e}"));
    }
    Ok(sc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(i: usize, op: &str, v: Option<u64>, e: Option<&str>) -> Observed {
        Observed {
            index: i,
            op: op.into(),
            value: v.map(Num),
            errno: e.map(str::to_string),
            ..Observed::default()
        }
    }

    #[test]
    fn differences_name_both_results() {
        let m = [
            obs(0, "user_read", Some(0x3b), None),
            obs(1, "init", None, None),
        ];
        let k = [
            obs(0, "user_read", None, Some("EBUSY")),
            obs(1, "init", None, None),
        ];
        let c = compare(&m, None, &k);
        assert_eq!(c.compared, 2);
        assert_eq!(c.differences.len(), 1);
        assert_eq!(c.differences[0].model, "0x3b");
        assert_eq!(c.differences[0].kernel, "EBUSY");
    }

    #[test]
    fn a_step_the_model_refused_is_a_difference() {
        let k = [obs(0, "guest_read", Some(1), None)];
        let c = compare(&[], Some("steps[0]: no run"), &k);
        assert_eq!(c.differences.len(), 1);
        assert!(c.differences[0].model.contains("no run"));
    }

    #[test]
    fn model_observations_follow_the_step_kind() {
        let sc = crate::scenario::parse(
            r#"{"host": {"gic": "v3", "kernel": "6.12"}, "vm": {"vcpus": 1},
                "steps": [{"op": "user_read", "reg": "GICD_CTLR"},
                          {"op": "init"}, {"op": "run"},
                          {"op": "sysreg_write", "vcpu": 0, "reg": "ICC_IAR1_EL1", "value": 0},
                          {"op": "schedule", "vcpu": 0, "resident": false}]}"#,
        )
        .unwrap();
        let (o, err) = observe_scenario(&sc);
        assert_eq!(err, None);
        assert_eq!(o[0].errno.as_deref(), Some("EBUSY"), "{o:?}");
        assert_eq!(o[1].result_text(), "ok");
        assert_eq!(o[3].exception.as_deref(), Some("undef"));
        assert!(o[4].na.is_some());
    }
}
