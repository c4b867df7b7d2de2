//! Random differential testing: random access sequences run on the model and
//! on a kernel (in practice `gicx-kvm`'s runner on real `/dev/kvm`), every
//! disagreement shrunk to a short scenario file (issue 12, "Random
//! differential testing").
//!
//! The sequences are those of the `access_sequence` fuzz target
//! (`fuzz/fuzz_targets/access_sequence.rs`), written as scenario steps so a
//! counterexample can be saved and replayed with `gicx run` and `gicx-kvm`:
//! guest MMIO of 8/16/32/64 bits from any vCPU, `KVM_{GET,SET,HAS}_DEVICE_ATTR`
//! on DIST_REGS/REDIST_REGS, LEVEL_INFO reads and writes, `init` and `run` at
//! random points, and a few CPU-interface steps (CPU_SYSREGS, the guest's
//! `ICC_*` registers, `KVM_IRQ_LINE`). Offsets are drawn from the catalogue's
//! registers three times in four and anywhere in the frame otherwise.
//!
//! Generation and shrinking are proptest's (a `Strategy` of raw steps mapped
//! to a [`Scenario`] by a pure function, so proptest shrinks the raw values
//! and every shrunk sequence is still a valid scenario). [`run`] draws the
//! cases one by one from a seeded ChaCha RNG and shrinks each failing case
//! with [`TestRunner::run_one`]; a failure's (op, register family) is then
//! excluded, so one pass finds up to [`Options::max_distinct`] distinct
//! disagreements instead of stopping at the first (proptest's `run` would).
//!
//! Two kinds of step are shaped so that every generated step means the same
//! on both sides and does something:
//! - a guest access (MMIO or `ICC_*`) before the VM has run gets an `init`
//!   and a `run` inserted just before it. (A guest step is a `KVM_RUN`, so
//!   without them it would only fail with `-EBUSY` before init, which the
//!   scenario corpus covers; the insertion keeps random guest accesses
//!   reaching the registers.) The final step-deleting pass ([`trim`]) may drop
//!   the inserted `run` again where the guest step's own `KVM_RUN` suffices;
//! - a guest MMIO offset is aligned down to the access width: the test guest
//!   runs with its MMU off, where every data access is Device-nGnRnE and an
//!   unaligned one takes an Alignment fault in the guest before KVM sees it (Arm ARM DDI 0487,
//!   B2.5.2 "Alignment of data accesses"). Unaligned userspace offsets are kept: KVM answers
//!   those (`-ENXIO` from `vgic_uaccess`'s region check).

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde::{Deserialize, Serialize};

use crate::catalogue::{self, Frame, CATALOGUE};
use crate::cpuif::{SysReg, SYSREGS};
use crate::host::Host;
use crate::oracle::{self, Comparison, Observed};
use crate::scenario::{
    CpuSysregStep, IrqLineStep, LevelInfoStep, LifecycleStep, Num, RegStep, Scenario, Step,
    SysregStep,
};
use crate::vgic::{cpu_sysregs, VmConfig};

/// Steps in one generated sequence, at most.
pub const MAX_SEQUENCE_STEPS: usize = 24;

/// vCPUs of a generated VM, at most (QEMU's virt machine under TCG runs them
/// all on one host thread: more only slows each case).
pub const MAX_VCPUS: u32 = 4;

// ---------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------

/// Where an access goes, before the VM's shape is known.
#[derive(Clone, Copy, Debug)]
enum RawTarget {
    /// Instance `index` (modulo the family's count) of catalogue family
    /// `family`, plus `byte` bytes into it (modulo its size).
    Catalogue {
        family: usize,
        index: u32,
        byte: u32,
    },
    /// Any offset of a frame (modulo its size).
    Anywhere { redist: bool, offset: u32 },
}

#[derive(Clone, Copy, Debug)]
enum UserOp {
    Read,
    Write,
    Has,
}

/// One step as drawn, in the VM-independent form proptest shrinks; [`build`]
/// makes it a scenario step for a given VM.
#[derive(Clone, Debug)]
enum RawStep {
    Guest {
        write: bool,
        target: RawTarget,
        vcpu: u8,
        width: u8,
        value: u64,
    },
    User {
        op: UserOp,
        target: RawTarget,
        vcpu: u8,
        value: u32,
    },
    LevelInfo {
        vcpu: u8,
        intid: u32,
        value: Option<u32>,
    },
    CpuSysregs {
        vcpu: u8,
        reg: String,
        value: Option<u64>,
    },
    Sysreg {
        write: bool,
        vcpu: u8,
        reg: SysReg,
        value: u64,
    },
    IrqLine {
        intid: u32,
        level: bool,
        vcpu: u8,
    },
    Init,
    Run,
}

fn target() -> impl Strategy<Value = RawTarget> {
    prop_oneof![
        3 => (0..CATALOGUE.len(), any::<u32>(), 0..8u32)
            .prop_map(|(family, index, byte)| RawTarget::Catalogue { family, index, byte }),
        1 => (any::<bool>(), 0..Frame::Redist.size())
            .prop_map(|(redist, offset)| RawTarget::Anywhere { redist, offset }),
    ]
}

/// Values that find bugs: zero, all ones, one bit, small numbers, anything.
fn value() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        0..0x100u64,
        (0..64u32).prop_map(|b| 1u64 << b),
        Just(u64::MAX),
        any::<u64>(),
    ]
}

/// A vCPU draw: most pick one of the VM's vCPUs, some (for the userspace
/// attributes, which name a vCPU by MPIDR) one past the last (see [`user_vcpu`]).
fn vcpu() -> impl Strategy<Value = u8> {
    any::<u8>()
}

/// INTIDs for LEVEL_INFO: mostly the multiples of 32 KVM takes, sometimes any
/// (the attribute's INTID field is 10 bits, `KVM_DEV_ARM_VGIC_LINE_LEVEL_INTID_MASK`).
fn level_intid() -> impl Strategy<Value = u32> {
    prop_oneof![3 => (0..32u32).prop_map(|i| i * 32), 1 => 0..1024u32]
}

/// The `KVM_DEV_ARM_VGIC_SYSREG` ids KVM's `gic_v3_icc_reg_descs` lists, by name.
fn cpu_sysreg_names() -> Vec<String> {
    (cpu_sysregs::ICC_PMR_EL1..=cpu_sysregs::ICC_IGRPEN1_EL1)
        .filter_map(cpu_sysregs::sysreg_name)
        .collect()
}

fn cpu_sysreg() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(cpu_sysreg_names()),
        1 => any::<u16>().prop_map(|id| format!("{id:#06x}")),
    ]
}

/// A guest `ICC_*` access and its value: SGIs to the VM's own vCPUs, INTIDs
/// for EOIR/DIR, else any value.
fn sysreg_step() -> impl Strategy<Value = RawStep> {
    let reg = proptest::sample::select(SYSREGS.iter().map(|d| d.reg).collect::<Vec<_>>());
    let intid = prop_oneof![0..32u64, 32..1024u64, Just(1023u64)];
    // ICC_SGI1R_EL1: INTID [27:24], TargetList [15:0] (Aff0 0..15 of Aff1 = 0,
    // where KVM puts vCPUs 0..15), IRM [40].
    let sgi = (0..16u64, 0..16u64, any::<bool>())
        .prop_map(|(intid, list, irm)| (intid << 24) | list | ((irm as u64) << 40));
    (any::<bool>(), vcpu(), reg, prop_oneof![value(), intid, sgi]).prop_map(
        |(write, vcpu, reg, value)| RawStep::Sysreg {
            write,
            vcpu,
            reg,
            value,
        },
    )
}

fn raw_step() -> impl Strategy<Value = RawStep> {
    let width = proptest::sample::select(vec![32u8, 8, 64, 16]);
    let user_op = prop_oneof![Just(UserOp::Read), Just(UserOp::Write), Just(UserOp::Has)];
    prop_oneof![
        // `Init` first: proptest shrinks a union towards its first arm.
        4 => Just(RawStep::Init),
        4 => Just(RawStep::Run),
        30 => (user_op, target(), vcpu(), value())
            .prop_map(|(op, target, vcpu, v)| RawStep::User { op, target, vcpu, value: v as u32 }),
        30 => (any::<bool>(), target(), vcpu(), width, value())
            .prop_map(|(write, target, vcpu, width, value)| RawStep::Guest { write, target, vcpu, width, value }),
        6 => (vcpu(), level_intid(), proptest::option::of(value()))
            .prop_map(|(vcpu, intid, v)| RawStep::LevelInfo { vcpu, intid, value: v.map(|v| v as u32) }),
        4 => (vcpu(), cpu_sysreg(), proptest::option::of(value()))
            .prop_map(|(vcpu, reg, value)| RawStep::CpuSysregs { vcpu, reg, value }),
        6 => sysreg_step(),
        3 => (prop_oneof![2 => 32..96u32, 1 => 16..32u32, 1 => 32..1020u32], any::<bool>(), vcpu())
            .prop_map(|(intid, level, vcpu)| RawStep::IrqLine { intid, level, vcpu }),
    ]
}

/// The nr_irqs values KVM accepts: 64..=992 in steps of 32 (`VmConfig::new`,
/// vgic-kvm-device.c `vgic_set_common_attr`).
fn vm() -> impl Strategy<Value = VmConfig> {
    (1..=MAX_VCPUS, 2..=31u32).prop_map(|(vcpus, n)| {
        VmConfig::new(vcpus, n * 32, false).expect("vcpus and nr_irqs are in KVM's ranges")
    })
}

/// Random access sequences as scenarios on `host`: 1–4 vCPUs, nr_irqs any
/// value KVM accepts, no ITS, 1..=[`MAX_SEQUENCE_STEPS`] steps. Every value
/// passes [`crate::scenario::validate`], runs on the model without an
/// impossible access, and round-trips through its JSON.
pub fn scenarios(host: Host) -> impl Strategy<Value = Scenario> {
    (
        vm(),
        proptest::collection::vec(raw_step(), 1..=MAX_SEQUENCE_STEPS),
    )
        .prop_map(move |(vm, raw)| build(host, vm, &raw))
}

/// A guest access's vCPU: one of the VM's.
fn guest_vcpu(raw: u8, vm: &VmConfig) -> u32 {
    raw as u32 % vm.vcpus
}

/// A userspace attribute's vCPU: one of the VM's, or (1 draw in 16) the first
/// MPIDR no vCPU has, which KVM refuses (`vgic_v3_parse_attr`: -EINVAL).
fn user_vcpu(raw: u8, vm: &VmConfig) -> u32 {
    if raw >= 240 {
        vm.vcpus
    } else {
        raw as u32 % vm.vcpus
    }
}

/// The frame and offset of a target; a catalogue register's offset is aligned
/// down to `align` bytes (the access width; 4 for userspace, whose attributes
/// are 32-bit), so that those accesses reach the register. Unaligned offsets
/// come from [`RawTarget::Anywhere`].
fn resolve_target(t: RawTarget, align: u32) -> (Frame, u32) {
    match t {
        RawTarget::Catalogue {
            family,
            index,
            byte,
        } => {
            let d = &CATALOGUE[family % CATALOGUE.len()];
            let i = index % d.count();
            let byte = (byte % d.reg_bytes as u32) & !(align - 1);
            (d.frame, d.offset + i * d.reg_bytes as u32 + byte)
        }
        RawTarget::Anywhere { redist, offset } => {
            let f = if redist { Frame::Redist } else { Frame::Dist };
            (f, offset % f.size())
        }
    }
}

/// The step's target, by name where the offset starts a catalogue instance
/// that the name resolves back to (readable counterexamples), else by frame
/// and offset.
fn reg_step(frame: Frame, offset: u32, vcpu: u32) -> RegStep {
    let named = catalogue::instance_at(frame, offset)
        .filter(|r| r.offset() == offset)
        .map(|r| r.name())
        .filter(|n| {
            catalogue::lookup(n).is_ok_and(|r| r.desc.frame == frame && r.offset() == offset)
        });
    let mut s = RegStep {
        vcpu: (vcpu != 0).then_some(vcpu),
        ..RegStep::default()
    };
    match named {
        Some(n) => s.reg = Some(n),
        None => {
            s.frame = Some(frame);
            s.offset = Some(Num(offset as u64));
        }
    }
    s
}

/// Where the VM is in its life, as far as the generated steps can move it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Life {
    Created,
    Initialised,
    Ran,
}

/// The scenario of `raw` on `host` and `vm`: vCPUs folded into the VM's,
/// guest offsets aligned, `init`/`run` inserted before a guest step that
/// would come before the first successful run, at most
/// [`MAX_SEQUENCE_STEPS`] steps.
fn build(host: Host, vm: VmConfig, raw: &[RawStep]) -> Scenario {
    let mut steps = Vec::with_capacity(raw.len() + 2);
    let mut life = Life::Created;
    for r in raw {
        let guest = matches!(r, RawStep::Guest { .. } | RawStep::Sysreg { .. });
        if guest && life != Life::Ran {
            if life == Life::Created {
                steps.push(Step::Init(LifecycleStep::default()));
            }
            steps.push(Step::Run(LifecycleStep::default()));
            life = Life::Ran;
        }
        let step = match r {
            RawStep::Init => {
                if life == Life::Created {
                    life = Life::Initialised;
                }
                Step::Init(LifecycleStep::default())
            }
            RawStep::Run => {
                // KVM_RUN before CTRL_INIT fails (-EBUSY) and leaves the VM as it was.
                if life == Life::Initialised {
                    life = Life::Ran;
                }
                Step::Run(LifecycleStep::default())
            }
            RawStep::Guest {
                write,
                target,
                vcpu,
                width,
                value,
            } => {
                let align = *width as u32 / 8;
                let (frame, off) = resolve_target(*target, align);
                let off = off & !(align - 1);
                let mut s = reg_step(frame, off, guest_vcpu(*vcpu, &vm));
                s.width = Some(*width);
                if *write {
                    let mask = if *width == 64 {
                        u64::MAX
                    } else {
                        (1u64 << width) - 1
                    };
                    s.value = Some(Num(value & mask));
                    Step::GuestWrite(s)
                } else {
                    Step::GuestRead(s)
                }
            }
            RawStep::User {
                op,
                target,
                vcpu,
                value,
            } => {
                let (frame, off) = resolve_target(*target, 4);
                // DIST_REGS ignore the attribute's MPIDR (vCPU 0 is used).
                let v = if frame == Frame::Dist {
                    0
                } else {
                    user_vcpu(*vcpu, &vm)
                };
                let mut s = reg_step(frame, off, v);
                match op {
                    UserOp::Read => Step::UserRead(s),
                    UserOp::Write => {
                        s.value = Some(Num(*value as u64));
                        Step::UserWrite(s)
                    }
                    UserOp::Has => Step::UserHas(s),
                }
            }
            RawStep::LevelInfo { vcpu, intid, value } => {
                let v = user_vcpu(*vcpu, &vm);
                let s = LevelInfoStep {
                    vcpu: (v != 0).then_some(v),
                    intid: *intid,
                    value: value.map(|x| Num(x as u64)),
                    ..LevelInfoStep::default()
                };
                if value.is_some() {
                    Step::LevelInfoWrite(s)
                } else {
                    Step::LevelInfoRead(s)
                }
            }
            RawStep::CpuSysregs { vcpu, reg, value } => {
                let v = user_vcpu(*vcpu, &vm);
                let s = CpuSysregStep {
                    vcpu: (v != 0).then_some(v),
                    reg: reg.clone(),
                    value: value.map(Num),
                    ..CpuSysregStep::default()
                };
                if value.is_some() {
                    Step::CpuSysregsWrite(s)
                } else {
                    Step::CpuSysregsRead(s)
                }
            }
            RawStep::Sysreg {
                write,
                vcpu,
                reg,
                value,
            } => {
                let vcpu = guest_vcpu(*vcpu, &vm);
                let s = |value: Option<u64>| SysregStep {
                    vcpu,
                    reg: *reg,
                    value: value.map(Num),
                    expect: None,
                    mask: None,
                    expect_rule: None,
                    note: None,
                };
                if *write {
                    Step::SysregWrite(s(Some(*value)))
                } else {
                    Step::SysregRead(s(None))
                }
            }
            RawStep::IrqLine { intid, level, vcpu } => Step::IrqLine(IrqLineStep {
                intid: *intid,
                level: *level,
                vcpu: (*intid < 32).then(|| guest_vcpu(*vcpu, &vm)),
                expect_error: None,
                expect_rule: None,
                note: None,
            }),
        };
        steps.push(step);
    }
    steps.truncate(MAX_SEQUENCE_STEPS);
    Scenario {
        name: None,
        description: None,
        note: None,
        host,
        vm,
        steps,
    }
}

// ---------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------

/// How [`run_with`] searches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// Distinct disagreements (op, register family) to shrink and report;
    /// after that the remaining cases are run and counted, not shrunk.
    pub max_distinct: usize,
    /// proptest's `max_shrink_iters` per disagreement: each iteration is one
    /// more run on the kernel.
    pub max_shrink_iters: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_distinct: 8,
            max_shrink_iters: 1024,
        }
    }
}

/// One disagreement, shrunk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Disagreement {
    /// The op of the first differing step that no earlier disagreement explains.
    pub op: String,
    /// Its register family (`GICD_IPRIORITYR<n>`, `LEVEL_INFO`, `ICC_PMR_EL1`,
    /// `unmapped dist`, or empty for `init`/`run`).
    pub register: String,
    /// The shrunk sequence: a scenario file (`gicx run`, `gicx-kvm`).
    pub scenario: Scenario,
    /// Cases tried before this one was found (its place in the seeded stream).
    pub case: u32,
    /// Runs spent shrinking it.
    pub shrink_runs: u32,
    pub model: Vec<Observed>,
    pub kernel: Vec<Observed>,
    /// The kernel could not set the shrunk scenario's VM up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_error: Option<String>,
    /// Model against kernel, step by step. (`oracle::Comparison` is not
    /// `Deserialize`: a report read back recomputes it with
    /// [`Disagreement::recompare`].)
    #[serde(skip_deserializing)]
    pub comparison: Comparison,
}

impl Disagreement {
    /// The comparison of the stored observations.
    pub fn recompare(&self) -> Comparison {
        oracle::compare(&self.model, None, &self.kernel)
    }
}

/// The result of [`run`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DifferentialReport {
    pub seed: u64,
    /// The model's host (`gic`, capabilities, kernel).
    pub host: Host,
    /// Sequences tried.
    pub cases: u32,
    /// Steps compared over those sequences (not counting shrinking).
    pub steps_compared: u64,
    /// Sequences with at least one difference, explained or not.
    pub disagreeing_cases: u32,
    /// Sequences the kernel could not set up (counted in `disagreeing_cases`).
    pub setup_errors: u32,
    /// Runs spent shrinking, over all disagreements.
    pub shrink_runs: u32,
    /// The distinct disagreements, shrunk, in the order found.
    pub differences: Vec<Disagreement>,
    /// Why the search shrank no more (the `max_distinct` limit), if it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// The register family a step touches, for telling disagreements apart.
pub fn register_family(step: &Step) -> String {
    match step {
        Step::GuestRead(s)
        | Step::GuestWrite(s)
        | Step::UserRead(s)
        | Step::UserWrite(s)
        | Step::UserHas(s) => match crate::scenario::resolve(s, "") {
            Ok(r) => catalogue::find_by_offset(r.frame, r.offset)
                .map(|d| d.pattern())
                .unwrap_or_else(|| format!("unmapped {}", r.frame.as_str())),
            Err(_) => String::new(),
        },
        Step::LevelInfoRead(_) | Step::LevelInfoWrite(_) => "LEVEL_INFO".into(),
        Step::CpuSysregsRead(s) | Step::CpuSysregsWrite(s) => cpu_sysregs::parse_sysreg(&s.reg)
            .and_then(cpu_sysregs::sysreg_name)
            .unwrap_or_else(|| "unknown sysreg".into()),
        Step::SysregRead(s) | Step::SysregWrite(s) => s.reg.name().into(),
        Step::IrqLine(s) if s.intid < 32 => "PPI".into(),
        Step::IrqLine(_) => "SPI".into(),
        _ => String::new(),
    }
}

/// What one case did on both sides.
struct Case {
    model: Vec<Observed>,
    kernel: Result<Vec<Observed>, String>,
    comparison: Comparison,
}

/// The (op, family) of each differing step; `("setup", "")` when the kernel
/// could not build the VM.
fn keys(sc: &Scenario, c: &Case) -> Vec<(String, String)> {
    if c.kernel.is_err() {
        return vec![("setup".into(), String::new())];
    }
    c.comparison
        .differences
        .iter()
        .map(|d| {
            let family = sc
                .steps
                .get(d.index)
                .map(register_family)
                .unwrap_or_default();
            (d.op.clone(), family)
        })
        .collect()
}

/// Run `cases` random sequences on `host` through the model and `kernel`,
/// shrinking each distinct disagreement; see [`run_with`].
pub fn run(
    cases: u32,
    seed: u64,
    host: Host,
    kernel: impl FnMut(&Scenario) -> Result<Vec<Observed>, String>,
) -> DifferentialReport {
    run_with(Options::default(), cases, seed, host, kernel)
}

/// Delete single steps from `sc` while it still `fails`, to a fixpoint.
///
/// proptest shrinks the raw steps element by element, which cannot undo the
/// `init`/`run` that [`build`] inserts for a guest step: a counterexample
/// `init, run, guest_read GICD_CTLR, user_read GICD_TYPER` stays as it is,
/// because deleting the raw guest read also deletes the `init` the user read
/// needs. Deleting the built steps finds `init, user_read GICD_TYPER`. A
/// deletion that leaves an invalid scenario, or one the model refuses as
/// impossible, is not tried.
fn trim(mut sc: Scenario, mut fails: impl FnMut(&Scenario) -> bool) -> Scenario {
    let mut i = 0;
    while i < sc.steps.len() && sc.steps.len() > 1 {
        let mut candidate = sc.clone();
        candidate.steps.remove(i);
        let runs = crate::scenario::validate(&candidate).is_ok()
            && oracle::observe_scenario(&candidate).1.is_none();
        if runs && fails(&candidate) {
            sc = candidate;
            i = 0;
        } else {
            i += 1;
        }
    }
    sc
}

/// The ChaCha seed of a `u64` seed: its little-endian bytes, then zeros.
fn rng(seed: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// Run `cases` sequences drawn from `seed` (the same seed draws the same
/// sequences), each on the model ([`oracle::observe_scenario`]) and on
/// `kernel`, compared with [`oracle::compare`]. A case whose differences are
/// not all of an (op, register family) already reported is shrunk by
/// proptest to a minimal sequence that still shows such a difference;
/// `kernel` returning `Err` (the VM could not be set up) counts as a
/// difference too.
pub fn run_with(
    opts: Options,
    cases: u32,
    seed: u64,
    host: Host,
    kernel: impl FnMut(&Scenario) -> Result<Vec<Observed>, String>,
) -> DifferentialReport {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: opts.max_shrink_iters,
        max_shrink_time: 0,
        fork: false,
        timeout: 0,
        verbose: 0,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, rng(seed));
    let strategy = scenarios(host);
    let kernel = RefCell::new(kernel);
    let exec = |sc: &Scenario| -> Case {
        let (model, model_error) = oracle::observe_scenario(sc);
        let k = (kernel.borrow_mut())(sc);
        let comparison = match &k {
            Ok(obs) => oracle::compare(&model, model_error.as_deref(), obs),
            Err(_) => Comparison::default(),
        };
        Case {
            model,
            kernel: k,
            comparison,
        }
    };

    let mut report = DifferentialReport {
        seed,
        host,
        cases: 0,
        steps_compared: 0,
        disagreeing_cases: 0,
        setup_errors: 0,
        shrink_runs: 0,
        differences: Vec::new(),
        stopped: None,
    };
    let excluded: RefCell<BTreeSet<(String, String)>> = RefCell::new(BTreeSet::new());
    // The first call of the test in `run_one` is the drawn case itself; the
    // rest are shrinking.
    let fresh = Cell::new(false);
    let shrinks = Cell::new(0u32);
    let counted = RefCell::new((0u64, false, false)); // steps, disagreed, setup error
    let test = |sc: Scenario| -> Result<(), TestCaseError> {
        let c = exec(&sc);
        if fresh.replace(false) {
            let mut n = counted.borrow_mut();
            *n = (
                c.comparison.compared as u64,
                c.kernel.is_err() || !c.comparison.differences.is_empty(),
                c.kernel.is_err(),
            );
        } else {
            shrinks.set(shrinks.get() + 1);
        }
        let ex = excluded.borrow();
        match keys(&sc, &c).into_iter().find(|k| !ex.contains(k)) {
            Some((op, family)) => Err(TestCaseError::fail(format!("{op} {family}"))),
            None => Ok(()),
        }
    };

    for case in 0..cases {
        let tree = match strategy.new_tree(&mut runner) {
            Ok(t) => t,
            Err(why) => {
                report.stopped = Some(format!("proptest could not draw case {case}: {why}"));
                break;
            }
        };
        let limit_reached = report.differences.len() >= opts.max_distinct;
        if limit_reached {
            // Count only: run the case once, no shrinking.
            let sc = tree.current();
            let c = exec(&sc);
            report.cases += 1;
            report.steps_compared += c.comparison.compared as u64;
            if c.kernel.is_err() || !c.comparison.differences.is_empty() {
                report.disagreeing_cases += 1;
            }
            report.setup_errors += c.kernel.is_err() as u32;
            continue;
        }
        fresh.set(true);
        shrinks.set(0);
        let result = runner.run_one(tree, test);
        let (steps, disagreed, setup_error) = *counted.borrow();
        report.cases += 1;
        report.steps_compared += steps;
        report.disagreeing_cases += disagreed as u32;
        report.setup_errors += setup_error as u32;
        let minimal = match result {
            Ok(_) => continue,
            Err(TestError::Fail(_, minimal)) => minimal,
            Err(TestError::Abort(why)) => {
                report.stopped = Some(format!("proptest aborted at case {case}: {why}"));
                break;
            }
        };
        let minimal = trim(minimal, |sc| test(sc.clone()).is_err());
        report.shrink_runs += shrinks.get();
        // Run the minimal sequence once more for the record (and to check it
        // still disagrees: a kernel that answers differently each time is
        // reported as it answered this time).
        let c = exec(&minimal);
        let key = {
            let ex = excluded.borrow();
            keys(&minimal, &c)
                .into_iter()
                .find(|k| !ex.contains(k))
                .unwrap_or_else(|| ("flaky".into(), "no longer disagrees when rerun".into()))
        };
        excluded.borrow_mut().insert(key.clone());
        let mut scenario = minimal;
        scenario.name = Some(format!("random-{seed}-{}", report.differences.len()));
        scenario.description = Some(format!(
            "gicx differential testing, seed {seed}, case {case}, shrunk: {} {} differs from the model",
            key.0, key.1
        ));
        let (kernel_obs, setup_error) = match c.kernel {
            Ok(k) => (k, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        report.differences.push(Disagreement {
            op: key.0,
            register: key.1,
            scenario,
            case,
            shrink_runs: shrinks.get(),
            model: c.model,
            kernel: kernel_obs,
            setup_error,
            comparison: c.comparison,
        });
        if report.differences.len() == opts.max_distinct {
            report.stopped = Some(format!(
                "{} distinct disagreements: the cases after case {case} were run and counted, not shrunk",
                opts.max_distinct
            ));
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::GicHw;
    use crate::scenario;

    fn hosts() -> Vec<Host> {
        vec![
            Host::simple(GicHw::V3, "6.12").unwrap(),
            Host::new(GicHw::V4_0, false, true, "5.10".parse().unwrap()).unwrap(),
            Host::new(GicHw::V4_0, false, false, "6.1".parse().unwrap()).unwrap(),
            Host::simple(GicHw::V4_1, "6.17").unwrap(),
        ]
    }

    fn model(sc: &Scenario) -> Result<Vec<Observed>, String> {
        Ok(oracle::observe_scenario(sc).0)
    }

    #[test]
    fn generated_scenarios_validate_round_trip_and_run() {
        for (i, host) in hosts().into_iter().enumerate() {
            let mut runner = TestRunner::new_with_rng(Config::default(), rng(i as u64));
            let strategy = scenarios(host);
            for _ in 0..300 {
                let sc = strategy.new_tree(&mut runner).unwrap().current();
                assert!((1..=MAX_SEQUENCE_STEPS).contains(&sc.steps.len()));
                assert!(sc.vm.vcpus <= MAX_VCPUS && !sc.vm.its);
                scenario::validate(&sc).unwrap_or_else(|e| panic!("{e}: {sc:?}"));
                let text = serde_json::to_string_pretty(&sc).unwrap();
                let back = scenario::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
                assert_eq!(back, sc, "{text}");
                let (_, err) = oracle::observe_scenario(&sc);
                assert_eq!(err, None, "the model refused a generated step: {text}");
            }
        }
    }

    #[test]
    fn shrunk_values_stay_valid() {
        let mut runner = TestRunner::new_with_rng(Config::default(), rng(7));
        let strategy = scenarios(hosts()[0]);
        for _ in 0..20 {
            let mut tree = strategy.new_tree(&mut runner).unwrap();
            for _ in 0..200 {
                let sc = tree.current();
                scenario::validate(&sc).unwrap();
                assert_eq!(oracle::observe_scenario(&sc).1, None);
                if !tree.simplify() {
                    break;
                }
            }
        }
    }

    #[test]
    fn names_resolve_to_their_offsets() {
        for d in CATALOGUE {
            for i in [0, d.count() - 1] {
                let off = d.offset + i * d.reg_bytes as u32;
                let s = reg_step(d.frame, off, 0);
                let r = scenario::resolve(&s, "").unwrap();
                assert_eq!((r.frame, r.offset), (d.frame, off), "{s:?}");
            }
        }
    }

    #[test]
    fn the_model_agrees_with_itself() {
        let host = hosts()[0];
        let r = run(500, 1, host, model);
        assert_eq!(r.cases, 500);
        assert!(r.differences.is_empty(), "{:?}", r.differences);
        assert_eq!((r.disagreeing_cases, r.shrink_runs), (0, 0));
        assert!(r.steps_compared > 500, "{}", r.steps_compared);
    }

    #[test]
    fn the_same_seed_draws_the_same_cases() {
        let host = hosts()[1];
        let seen = |seed| {
            let mut v = Vec::new();
            run(20, seed, host, |sc| {
                v.push(sc.clone());
                model(sc)
            });
            v
        };
        assert_eq!(seen(5), seen(5));
        assert_ne!(seen(5), seen(6));
    }

    /// A kernel whose GICD_TYPER (and, with `iidr`, GICD_IIDR) reads are off by one bit.
    fn wrong(iidr: bool) -> impl FnMut(&Scenario) -> Result<Vec<Observed>, String> {
        move |sc: &Scenario| {
            let mut obs = model(sc)?;
            for (o, step) in obs.iter_mut().zip(&sc.steps) {
                let (Step::UserRead(s) | Step::GuestRead(s)) = step else {
                    continue;
                };
                let r = scenario::resolve(s, "").unwrap();
                let hit = r.frame == Frame::Dist
                    && ((4..8).contains(&r.offset) || (iidr && (8..12).contains(&r.offset)));
                if let (true, Some(v)) = (hit, o.value.as_mut()) {
                    v.0 ^= 1 << (8 * (r.offset & 3));
                }
            }
            Ok(obs)
        }
    }

    #[test]
    fn a_wrong_kernel_is_found_and_shrunk() {
        let r = run(500, 3, hosts()[0], wrong(false));
        assert_eq!(r.cases, 500);
        // Guest reads and VMM reads are told apart: (op, register).
        let mut found: Vec<(&str, &str)> = r
            .differences
            .iter()
            .map(|d| (d.op.as_str(), d.register.as_str()))
            .collect();
        found.sort();
        assert_eq!(
            found,
            [("guest_read", "GICD_TYPER"), ("user_read", "GICD_TYPER")]
        );
        for d in &r.differences {
            let text = serde_json::to_string(&d.scenario).unwrap();
            assert!(d.scenario.steps.len() <= 3, "{text}");
        }
        // The VMM's read needs only the init before it.
        let d = r.differences.iter().find(|d| d.op == "user_read").unwrap();
        assert_eq!(d.scenario.steps.len(), 2, "{:?}", d.scenario.steps);
        assert!(!d.comparison.differences.is_empty());
        assert!(r.disagreeing_cases >= 1 && r.shrink_runs > 0);
        // The counterexample is a scenario file.
        let text = serde_json::to_string(&d.scenario).unwrap();
        assert_eq!(scenario::parse(&text).unwrap(), d.scenario);
        // And the report reads back.
        let json = serde_json::to_string(&r).unwrap();
        let back: DifferentialReport = serde_json::from_str(&json).unwrap();
        for (b, d) in back.differences.iter().zip(&r.differences) {
            assert_eq!(b.recompare(), d.comparison);
        }
    }

    #[test]
    fn distinct_disagreements_are_each_reported() {
        let r = run(800, 4, hosts()[0], wrong(true));
        let mut found: Vec<(&str, &str)> = r
            .differences
            .iter()
            .map(|d| (d.op.as_str(), d.register.as_str()))
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                ("guest_read", "GICD_IIDR"),
                ("guest_read", "GICD_TYPER"),
                ("user_read", "GICD_IIDR"),
                ("user_read", "GICD_TYPER")
            ]
        );
        for d in &r.differences {
            let text = serde_json::to_string(&d.scenario).unwrap();
            assert!(d.scenario.steps.len() <= 3, "{text}");
        }
    }

    #[test]
    fn a_kernel_that_cannot_set_up_is_one_disagreement() {
        let opts = Options {
            max_distinct: 1,
            ..Options::default()
        };
        let r = run_with(opts, 50, 9, hosts()[0], |_| {
            Err("KVM_CREATE_VM: ENOMEM".into())
        });
        assert_eq!((r.cases, r.disagreeing_cases, r.setup_errors), (50, 50, 50));
        assert_eq!(r.differences.len(), 1);
        assert_eq!(r.differences[0].op, "setup");
        assert_eq!(r.differences[0].scenario.steps.len(), 1);
        assert!(r.stopped.is_some());
    }
}
