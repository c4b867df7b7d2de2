//! Scenario steps for interrupt delivery: `sgi`, `irq_line`, `ack`, `eoi`,
//! `deactivate`, `schedule`, `sysreg_read` and `sysreg_write` (documented in
//! docs/scenario-format.md, "Delivery steps"). They drive [`crate::delivery`];
//! `sgi`, `ack`, `eoi` and `deactivate` are shorthands for `sysreg_write
//! ICC_SGI1R_EL1`, `sysreg_read ICC_IAR1_EL1`, `sysreg_write ICC_EOIR1_EL1` and
//! `sysreg_write ICC_DIR_EL1`, and go through exactly those accesses.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::{check_errno, ErrnoName, Num, ScenarioError, Step};
use crate::cpuif::{Sgi1r, SysReg, SPURIOUS};
use crate::delivery::DeliveryPath;
use crate::vgic::{AccessError, Outcome, Vgic, VmConfig, NR_PRIVATE_IRQS, NR_SGIS};

/// The `targets` of an `sgi` step: a list of vCPUs, or `"others"` (IRM = 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SgiTargets {
    List(Vec<u32>),
    Others,
}

impl Serialize for SgiTargets {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SgiTargets::List(v) => v.serialize(s),
            SgiTargets::Others => s.serialize_str("others"),
        }
    }
}

impl<'de> Deserialize<'de> for SgiTargets {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SgiTargets;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of vCPU numbers or \"others\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SgiTargets, E> {
                if v == "others" {
                    Ok(SgiTargets::Others)
                } else {
                    Err(E::custom(format!(
                        "{v:?}: expected a list of vCPU numbers or \"others\" (IRM = 1)"
                    )))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SgiTargets, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = seq.next_element::<u32>()? {
                    v.push(x);
                }
                Ok(SgiTargets::List(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// `sgi`: vCPU `from` writes ICC_SGI1R_EL1 (once per Aff3.Aff2.Aff1 cluster).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgiStep {
    pub from: u32,
    pub intid: u32,
    pub targets: SgiTargets,
    /// The path every target's SGI takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_path: Option<DeliveryPath>,
    /// Exactly the vCPUs on which the SGI is pending afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_pending_on: Option<Vec<u32>>,
    /// Exactly the vCPUs whose vPE doorbell this step rings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_doorbell: Option<Vec<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `irq_line`: the VMM's `KVM_IRQ_LINE` for an SPI (or, with `vcpu`, a PPI).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IrqLineStep {
    pub intid: u32,
    pub level: bool,
    /// Only for PPIs (16–31): the vCPU whose PPI it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_error: Option<ErrnoName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `ack`: vCPU `vcpu` reads ICC_IAR1_EL1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckStep {
    pub vcpu: u32,
    /// The INTID ICC_IAR1_EL1 returns (1023 = spurious).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `eoi` (ICC_EOIR1_EL1) and `deactivate` (ICC_DIR_EL1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntidStep {
    pub vcpu: u32,
    pub intid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `schedule`: load (`resident: true`) or put a vCPU and its vPE.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleStep {
    pub vcpu: u32,
    pub resident: bool,
    /// With `resident: false`: the vCPU blocks in WFI (default; KVM asks for a
    /// doorbell) rather than being preempted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wfi: Option<bool>,
    /// `resident: false`: a doorbell is armed; `resident: true`: a doorbell
    /// fired while the vCPU was away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doorbell: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `sysreg_read` / `sysreg_write`: a guest access to a CPU-interface register.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SysregStep {
    pub vcpu: u32,
    pub reg: SysReg,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Num>,
    /// Compare only these bits of the value read with `expect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn vcpu_error(field: String, v: u32, vm: &VmConfig) -> ScenarioError {
    ScenarioError::at(
        field,
        format!("vCPU {v} does not exist (vm.vcpus = {})", vm.vcpus),
    )
}

fn check_vcpu(p: &str, field: &str, v: u32, vm: &VmConfig) -> Result<(), ScenarioError> {
    if v >= vm.vcpus {
        return Err(vcpu_error(format!("{p}.{field}"), v, vm));
    }
    Ok(())
}

fn check_vcpus(p: &str, field: &str, list: &[u32], vm: &VmConfig) -> Result<(), ScenarioError> {
    for (j, &v) in list.iter().enumerate() {
        if v >= vm.vcpus {
            return Err(vcpu_error(format!("{p}.{field}[{j}]"), v, vm));
        }
    }
    Ok(())
}

/// An LPI INTID the VM can have: with an ITS, 8192 up to the 16 ID bits KVM's
/// ITS gives LPIs (`INTERRUPT_ID_BITS_ITS`).
fn is_lpi(intid: u32, vm: &VmConfig) -> bool {
    vm.its && (crate::vits::LPI_OFFSET..1 << crate::vits::LPI_ID_BITS).contains(&intid)
}

/// Validate a delivery step; `None` for other steps.
pub(super) fn validate(step: &Step, vm: &VmConfig, p: &str) -> Option<Result<(), ScenarioError>> {
    let r = match step {
        Step::Sgi(s) => validate_sgi(s, vm, p),
        Step::IrqLine(s) => validate_irq_line(s, vm, p),
        Step::Ack(s) => check_vcpu(p, "vcpu", s.vcpu, vm).and_then(|_| match s.expect {
            Some(e) if e > SPURIOUS && !is_lpi(e, vm) => Err(ScenarioError::at(
                format!("{p}.expect"),
                format!("{e} is not an INTID ICC_IAR1_EL1 can return (0-1023, or an LPI 8192-65535 with vm.its)"),
            )),
            _ => Ok(()),
        }),
        Step::Eoi(s) | Step::Deactivate(s) => check_vcpu(p, "vcpu", s.vcpu, vm).and_then(|_| {
            if s.intid > SPURIOUS && !is_lpi(s.intid, vm) {
                Err(ScenarioError::at(
                    format!("{p}.intid"),
                    format!("{} is not an INTID (0-1023, or an LPI 8192-65535 with vm.its)", s.intid),
                ))
            } else {
                Ok(())
            }
        }),
        Step::Schedule(s) => check_vcpu(p, "vcpu", s.vcpu, vm).and_then(|_| {
            if s.resident && s.wfi.is_some() {
                Err(ScenarioError::at(
                    format!("{p}.wfi"),
                    "`wfi` says how a vCPU leaves (resident: false); it is not used when it comes back",
                ))
            } else {
                Ok(())
            }
        }),
        Step::SysregRead(s) | Step::SysregWrite(s) => validate_sysreg(step, s, vm, p),
        _ => return None,
    };
    Some(r)
}

fn validate_sgi(s: &SgiStep, vm: &VmConfig, p: &str) -> Result<(), ScenarioError> {
    check_vcpu(p, "from", s.from, vm)?;
    if s.intid >= NR_SGIS {
        return Err(ScenarioError::at(
            format!("{p}.intid"),
            format!("{}: SGIs are INTIDs 0-15", s.intid),
        ));
    }
    if let SgiTargets::List(list) = &s.targets {
        if list.is_empty() {
            return Err(ScenarioError::at(
                format!("{p}.targets"),
                "no target: give vCPU numbers or \"others\"",
            ));
        }
        check_vcpus(p, "targets", list, vm)?;
    }
    if let Some(l) = &s.expect_pending_on {
        check_vcpus(p, "expect_pending_on", l, vm)?;
    }
    if let Some(l) = &s.expect_doorbell {
        check_vcpus(p, "expect_doorbell", l, vm)?;
    }
    Ok(())
}

fn validate_irq_line(s: &IrqLineStep, vm: &VmConfig, p: &str) -> Result<(), ScenarioError> {
    // KVM_IRQ_LINE carries the INTID in bits 15:0 (KVM_ARM_IRQ_NUM_MASK):
    // any such number is an ioctl KVM answers (-EINVAL for one it has no
    // interrupt for); INTIDs below 32 go as KVM_ARM_IRQ_TYPE_PPI with a vCPU.
    if s.intid > 0xFFFF {
        return Err(ScenarioError::at(
            format!("{p}.intid"),
            format!(
                "{}: KVM_IRQ_LINE carries the INTID in 16 bits (0-65535)",
                s.intid
            ),
        ));
    }
    match (s.intid < NR_PRIVATE_IRQS, s.vcpu) {
        (true, None) => Err(ScenarioError::at(
            p.to_string(),
            format!(
                "INTID {} is below 32: KVM_IRQ_LINE sends it as a PPI: give the vcpu it belongs to",
                s.intid
            ),
        )),
        (true, Some(v)) => check_vcpu(p, "vcpu", v, vm),
        (false, Some(_)) => Err(ScenarioError::at(
            format!("{p}.vcpu"),
            "`vcpu` is only for PPIs (16-31): an SPI goes where its GICD_IROUTER points",
        )),
        (false, None) => Ok(()),
    }
}

fn validate_sysreg(
    step: &Step,
    s: &SysregStep,
    vm: &VmConfig,
    p: &str,
) -> Result<(), ScenarioError> {
    check_vcpu(p, "vcpu", s.vcpu, vm)?;
    let write = matches!(step, Step::SysregWrite(_));
    let op = if write { "sysreg_write" } else { "sysreg_read" };
    if write && s.value.is_none() {
        return Err(ScenarioError::at(
            p.to_string(),
            format!("{op} needs a `value`"),
        ));
    }
    if !write && s.value.is_some() {
        return Err(ScenarioError::at(
            format!("{p}.value"),
            format!("`value` is not used by {op}"),
        ));
    }
    if write && (s.expect.is_some() || s.mask.is_some()) {
        return Err(ScenarioError::at(
            format!("{p}.expect"),
            format!("`expect` and `mask` are not used by {op}"),
        ));
    }
    if s.mask.is_some() && s.expect.is_none() {
        return Err(ScenarioError::at(
            format!("{p}.mask"),
            "`mask` says which bits of `expect` to compare: give `expect` too",
        ));
    }
    Ok(())
}

/// What a delivery step did: summary, outcome, expectation failures.
pub(super) type Ran = (String, Outcome, Vec<String>);

/// Run a delivery step; `None` for other steps.
pub(super) fn run(vm: &mut Vgic, step: &Step) -> Option<Result<Ran, AccessError>> {
    Some(match step {
        Step::Sgi(s) => run_sgi(vm, s),
        Step::IrqLine(s) => Ok(run_irq_line(vm, s)),
        Step::Ack(s) => run_ack(vm, s),
        Step::Eoi(s) => run_intid(vm, s, SysReg::IccEoir1El1),
        Step::Deactivate(s) => run_intid(vm, s, SysReg::IccDirEl1),
        Step::Schedule(s) => run_schedule(vm, s),
        Step::SysregRead(s) => run_sysreg(vm, s, false),
        Step::SysregWrite(s) => run_sysreg(vm, s, true),
        _ => return None,
    })
}

fn vcpu_list(v: &[u32]) -> String {
    match v {
        [] => "no vCPU".into(),
        [one] => format!("vCPU {one}"),
        _ => format!(
            "vCPUs {}",
            v.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn expect_set(what: &str, expected: &[u32], actual: &[u32], failures: &mut Vec<String>) {
    let mut e = expected.to_vec();
    e.sort_unstable();
    e.dedup();
    if e != actual {
        failures.push(format!(
            "expected {what} {}, got {}",
            vcpu_list(&e),
            vcpu_list(actual)
        ));
    }
}

fn run_sgi(vm: &mut Vgic, s: &SgiStep) -> Result<Ran, AccessError> {
    let n = vm.config().vcpus;
    let intid = s.intid as u8;
    let (writes, targets): (Vec<Sgi1r>, Vec<u32>) = match &s.targets {
        SgiTargets::Others => (
            vec![Sgi1r::others(intid)],
            (0..n).filter(|&v| v != s.from).collect(),
        ),
        SgiTargets::List(l) => (Sgi1r::for_vcpus(intid, l), l.clone()),
    };
    let fired_before: Vec<bool> = (0..n)
        .map(|v| vm.its().vpe(v).is_some_and(|p| p.doorbell_fired))
        .collect();
    let mut out: Option<Outcome> = None;
    let mut values = Vec::new();
    for w in &writes {
        let o = vm.sysreg_write(s.from, SysReg::IccSgi1rEl1, w.encode())?;
        values.push(format!("{:#x}", w.encode()));
        out = Some(match out {
            None => o,
            Some(mut acc) => {
                for r in o.rules {
                    if !acc.rules.iter().any(|x| std::ptr::eq(*x, r)) {
                        acc.rules.push(r);
                    }
                }
                acc.notes.extend(o.notes);
                acc
            }
        });
    }
    let mut out = out.expect("at least one write: validated");
    if values.len() > 1 {
        out.notes
            .push(format!("one write per cluster: {}", values.join(", ")));
    }
    let paths: Vec<(u32, DeliveryPath)> = targets
        .iter()
        .map(|&t| (t, vm.sgi_path(t, s.intid)))
        .collect();
    let path_text = {
        let hw = paths
            .iter()
            .filter(|(_, p)| *p == DeliveryPath::Hardware)
            .count();
        match hw {
            0 => "software path",
            h if h == paths.len() => "hardware path",
            _ => "mixed paths",
        }
    };
    let mut failures = Vec::new();
    if let Some(want) = s.expect_path {
        for (t, p) in &paths {
            if *p != want {
                failures.push(format!(
                    "expected the {} path, vCPU {t}'s SGI {} took the {} path",
                    want.as_str(),
                    s.intid,
                    p.as_str()
                ));
            }
        }
    }
    if let Some(e) = &s.expect_pending_on {
        let actual: Vec<u32> = (0..n)
            .filter(|&v| vm.is_pending_anywhere(v, s.intid))
            .collect();
        expect_set(
            &format!("SGI {} pending on", s.intid),
            e,
            &actual,
            &mut failures,
        );
    }
    if let Some(e) = &s.expect_doorbell {
        let actual: Vec<u32> = (0..n)
            .filter(|&v| {
                !fired_before[v as usize] && vm.its().vpe(v).is_some_and(|p| p.doorbell_fired)
            })
            .collect();
        expect_set("doorbells rung for", e, &actual, &mut failures);
    }
    let to = match &s.targets {
        SgiTargets::Others => "every other vCPU (IRM = 1)".to_string(),
        SgiTargets::List(l) => vcpu_list(l),
    };
    let summary = format!(
        "vCPU {}: MSR ICC_SGI1R_EL1, {} (SGI {} to {to}): {path_text}",
        s.from,
        values.join(" + "),
        s.intid
    );
    Ok((summary, out, failures))
}

fn run_irq_line(vm: &mut Vgic, s: &IrqLineStep) -> Ran {
    let o = vm.irq_line(s.intid, s.level, s.vcpu);
    let mut failures = Vec::new();
    check_errno(&o, &s.expect_error, &mut failures);
    let kind = if s.intid < NR_PRIVATE_IRQS {
        format!("PPI {} of vCPU {}", s.intid, s.vcpu.unwrap_or(0))
    } else {
        format!("SPI {}", s.intid)
    };
    let res = o
        .errno
        .map(|e| e.to_string())
        .unwrap_or_else(|| "ok".into());
    let summary = format!("KVM_IRQ_LINE {kind} level {}: {res}", s.level as u8);
    (summary, o, failures)
}

fn run_ack(vm: &mut Vgic, s: &AckStep) -> Result<Ran, AccessError> {
    let o = vm.sysreg_read(s.vcpu, SysReg::IccIar1El1)?;
    let mut failures = Vec::new();
    if let Some(e) = s.expect {
        if o.value != e as u64 {
            failures.push(format!(
                "expected INTID {e}, ICC_IAR1_EL1 returned {}",
                o.value
            ));
        }
    }
    let spurious = if o.value == SPURIOUS as u64 {
        " (spurious)"
    } else {
        ""
    };
    let summary = format!("vCPU {}: MRS ICC_IAR1_EL1 = {}{spurious}", s.vcpu, o.value);
    Ok((summary, o, failures))
}

fn run_intid(vm: &mut Vgic, s: &IntidStep, reg: SysReg) -> Result<Ran, AccessError> {
    let o = vm.sysreg_write(s.vcpu, reg, s.intid as u64)?;
    let summary = format!("vCPU {}: MSR {}, {}", s.vcpu, reg.name(), s.intid);
    Ok((summary, o, Vec::new()))
}

fn run_schedule(vm: &mut Vgic, s: &ScheduleStep) -> Result<Ran, AccessError> {
    let wfi = s.wfi.unwrap_or(true);
    let o = vm.schedule(s.vcpu, s.resident, wfi)?;
    let has_vpe = vm.its().vpe(s.vcpu).is_some();
    let flag = o.value != 0;
    let mut failures = Vec::new();
    if let Some(want) = s.doorbell {
        if want != flag {
            let what = if s.resident {
                "a doorbell to have fired while it was away"
            } else {
                "a doorbell to be armed"
            };
            let why = if has_vpe { "" } else { " (this VM has no vPE)" };
            failures.push(format!(
                "expected {}{what}, it is {}{why}",
                if want { "" } else { "no " },
                if flag { "so" } else { "not" }
            ));
        }
    }
    let summary = if s.resident {
        let db = if flag {
            "; a doorbell fired while it was away"
        } else {
            ""
        };
        format!(
            "vCPU {} scheduled in{}{db}",
            s.vcpu,
            if has_vpe { ", vPE resident" } else { "" }
        )
    } else {
        let how = if wfi { "blocks in WFI" } else { "is preempted" };
        let db = match (has_vpe, flag) {
            (false, _) => String::new(),
            (true, true) => ", vPE non-resident, doorbell armed".into(),
            (true, false) => ", vPE non-resident, no doorbell armed".into(),
        };
        format!("vCPU {} {how}{db}", s.vcpu)
    };
    Ok((summary, o, failures))
}

fn run_sysreg(vm: &mut Vgic, s: &SysregStep, write: bool) -> Result<Ran, AccessError> {
    let mut failures = Vec::new();
    if write {
        let v = s.value.map(|n| n.0).unwrap_or(0);
        let o = vm.sysreg_write(s.vcpu, s.reg, v)?;
        let summary = format!("vCPU {}: MSR {}, {v:#x}", s.vcpu, s.reg.name());
        return Ok((summary, o, failures));
    }
    let o = vm.sysreg_read(s.vcpu, s.reg)?;
    super::setup::check_masked(s.expect, s.mask, o.value, &mut failures);
    let summary = format!("vCPU {}: MRS {} = {:#x}", s.vcpu, s.reg.name(), o.value);
    Ok((summary, o, failures))
}

#[cfg(test)]
mod tests {
    use crate::scenario::{parse, run};

    const HEAD: &str = r#""host": {"gic": "v4.1", "kernel": "6.8"}, "vm": {"vcpus": 4}"#;

    fn boot(steps: &str) -> String {
        format!(
            r#"{{{HEAD}, "steps": [{{"op": "init"}}, {{"op": "run"}},
            {{"op": "guest_write", "reg": "GICD_CTLR", "value": "0x113"}},
            {{"op": "sysreg_write", "vcpu": 1, "reg": "ICC_PMR_EL1", "value": "0xf0"}},
            {{"op": "sysreg_write", "vcpu": 1, "reg": "ICC_IGRPEN1_EL1", "value": 1}},
            {steps}]}}"#
        )
    }

    #[test]
    fn shorthands_agree_with_the_register_accesses() {
        for (short, long) in [
            (
                r#"{"op": "sgi", "from": 0, "intid": 3, "targets": [1, 2]}"#,
                r#"{"op": "sysreg_write", "vcpu": 0, "reg": "ICC_SGI1R_EL1", "value": "0x3000006"}"#,
            ),
            (
                r#"{"op": "sgi", "from": 0, "intid": 3, "targets": "others"}"#,
                r#"{"op": "sysreg_write", "vcpu": 0, "reg": "ICC_SGI1R_EL1", "value": "0x10003000000"}"#,
            ),
            (
                r#"{"op": "sgi", "from": 0, "intid": 3, "targets": [1]}, {"op": "ack", "vcpu": 1, "expect": 3}, {"op": "eoi", "vcpu": 1, "intid": 3}"#,
                r#"{"op": "sysreg_write", "vcpu": 0, "reg": "ICC_SGI1R_EL1", "value": "0x3000002"}, {"op": "sysreg_read", "vcpu": 1, "reg": "ICC_IAR1_EL1", "expect": 3}, {"op": "sysreg_write", "vcpu": 1, "reg": "ICC_EOIR1_EL1", "value": 3}"#,
            ),
            (
                r#"{"op": "sysreg_write", "vcpu": 1, "reg": "ICC_CTLR_EL1", "value": 2}, {"op": "sgi", "from": 0, "intid": 3, "targets": [1]}, {"op": "ack", "vcpu": 1}, {"op": "eoi", "vcpu": 1, "intid": 3}, {"op": "deactivate", "vcpu": 1, "intid": 3}"#,
                r#"{"op": "sysreg_write", "vcpu": 1, "reg": "ICC_CTLR_EL1", "value": 2}, {"op": "sysreg_write", "vcpu": 0, "reg": "ICC_SGI1R_EL1", "value": "0x3000002"}, {"op": "sysreg_read", "vcpu": 1, "reg": "ICC_IAR1_EL1"}, {"op": "sysreg_write", "vcpu": 1, "reg": "ICC_EOIR1_EL1", "value": 3}, {"op": "sysreg_write", "vcpu": 1, "reg": "ICC_DIR_EL1", "value": 3}"#,
            ),
        ] {
            let (a, vm_a) = run(&parse(&boot(short)).unwrap()).unwrap();
            let (b, vm_b) = run(&parse(&boot(long)).unwrap()).unwrap();
            assert!(a.passed() && b.passed(), "{short}");
            assert_eq!(vm_a.state(), vm_b.state(), "{short}");
            assert_eq!(a.steps.len(), b.steps.len());
            for (x, y) in a.steps.iter().zip(&b.steps) {
                assert_eq!(x.trace(), y.trace(), "{short}: step {}", x.index);
                let (ox, oy) = (x.outcome.as_ref().unwrap(), y.outcome.as_ref().unwrap());
                assert_eq!((ox.value, &ox.register), (oy.value, &oy.register));
            }
        }
    }

    #[test]
    fn delivery_steps_name_the_json_path() {
        let bad = |steps: &str| parse(&boot(steps)).unwrap_err();
        let e = bad(r#"{"op": "sgi", "from": 0, "intid": 3, "targets": [1, 9]}"#);
        assert_eq!(e.path, "steps[5].targets[1]");
        assert!(e.message.contains("vCPU 9 does not exist"), "{e}");
        assert_eq!(
            bad(r#"{"op": "sgi", "from": 0, "intid": 16, "targets": [1]}"#).path,
            "steps[5].intid"
        );
        assert_eq!(
            bad(r#"{"op": "sgi", "from": 7, "intid": 1, "targets": "others"}"#).path,
            "steps[5].from"
        );
        assert_eq!(
            bad(
                r#"{"op": "sgi", "from": 0, "intid": 1, "targets": [1], "expect_pending_on": [4]}"#
            )
            .path,
            "steps[5].expect_pending_on[0]"
        );
        assert!(
            bad(r#"{"op": "sgi", "from": 0, "intid": 1, "targets": "all"}"#)
                .message
                .contains("others")
        );
        // INTIDs below 32 go as PPIs (a vcpu is needed); any 16-bit INTID
        // is an ioctl KVM answers (-EINVAL), beyond that it cannot be sent.
        assert_eq!(
            bad(r#"{"op": "irq_line", "intid": 3, "level": true}"#).path,
            "steps[5]"
        );
        assert_eq!(
            bad(r#"{"op": "irq_line", "intid": 65536, "level": true}"#).path,
            "steps[5].intid"
        );
        assert_eq!(
            bad(r#"{"op": "irq_line", "intid": 40, "level": true, "vcpu": 1}"#).path,
            "steps[5].vcpu"
        );
        assert_eq!(
            bad(r#"{"op": "irq_line", "intid": 27, "level": true}"#).path,
            "steps[5]"
        );
        assert_eq!(
            bad(r#"{"op": "schedule", "vcpu": 1, "resident": true, "wfi": true}"#).path,
            "steps[5].wfi"
        );
        assert_eq!(
            bad(r#"{"op": "sysreg_read", "vcpu": 1, "reg": "ICC_PMR_EL1", "value": 1}"#).path,
            "steps[5].value"
        );
        assert_eq!(
            bad(r#"{"op": "sysreg_write", "vcpu": 1, "reg": "ICC_PMR_EL1"}"#).path,
            "steps[5]"
        );
        assert!(
            bad(r#"{"op": "sysreg_read", "vcpu": 1, "reg": "ICC_SGI0R_EL1"}"#)
                .message
                .contains("ICC_IAR0_EL1")
        );
        assert_eq!(bad(r#"{"op": "ack", "vcpu": 4}"#).path, "steps[5].vcpu");
    }

    #[test]
    fn delivery_steps_round_trip_and_report_traces() {
        let text = boot(
            r#"{"op": "sgi", "from": 0, "intid": 3, "targets": [1], "expect_path": "hardware", "expect_pending_on": [1]},
               {"op": "schedule", "vcpu": 2, "resident": false, "doorbell": true},
               {"op": "sgi", "from": 0, "intid": 4, "targets": [2], "expect_doorbell": [2]},
               {"op": "schedule", "vcpu": 2, "resident": true, "doorbell": true},
               {"op": "ack", "vcpu": 1, "expect": 3}"#,
        );
        let sc = parse(&text).unwrap();
        assert_eq!(parse(&serde_json::to_string(&sc).unwrap()).unwrap(), sc);
        let (rep, _) = run(&sc).unwrap();
        assert!(rep.passed(), "{:#?}", rep.failures().collect::<Vec<_>>());
        let json = serde_json::to_value(&rep).unwrap();
        let hops = json["steps"][5]["trace"].as_array().unwrap();
        assert!(hops.iter().any(|h| h["at"] == "GITS_SGIR"), "{hops:?}");
        assert_eq!(json["steps"][0]["trace"][0]["at"], "vgic_v4_init");
        assert!(json["steps"][5]["outcome"].get("trace").is_none());
    }
}
