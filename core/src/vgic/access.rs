//! The access API's vocabulary: which path (guest MMIO or userspace
//! `KVM_{GET,SET,HAS}_DEVICE_ATTR`), the `Outcome` every access returns with the
//! rules that decided it, `AccessError` for requests KVM cannot receive, and the
//! per-access context the handlers report into.

use serde::{Deserialize, Serialize};

use super::observer::{AccessObserver, Recorder};
use crate::catalogue::Frame;
use crate::errno::Errno;
use crate::rules::Rule;

/// The access path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Path {
    /// Guest MMIO (trapped data abort → `dispatch_mmio_read/write`).
    Guest,
    /// VMM `KVM_{GET,SET,HAS}_DEVICE_ATTR` on DIST_REGS/REDIST_REGS.
    User,
}

/// The kind of access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Read,
    Write,
    /// `KVM_HAS_DEVICE_ATTR`.
    Has,
    /// `KVM_DEV_ARM_VGIC_CTRL_INIT`.
    Init,
    /// The first `KVM_RUN`.
    Run,
}

/// The result of one access, with the rules that decided it.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub path: Path,
    pub op: Op,
    pub frame: Option<Frame>,
    pub vcpu: u32,
    pub offset: u32,
    pub width: u8,
    /// The register instance addressed, e.g. `GICD_ISENABLER1`.
    pub register: Option<String>,
    /// The value read (reads) or written (writes).
    pub value: u64,
    pub errno: Option<Errno>,
    pub rules: Vec<&'static Rule>,
    /// Side effects and details in words, e.g. "KVM_REQ_RELOAD_GICv4 sent to all vCPUs".
    pub notes: Vec<String>,
    /// The hops of the step this outcome belongs to (filled by the scenario
    /// runner from `Vgic::take_trace`; serialised as the step's `trace`).
    #[serde(skip)]
    pub trace: Vec<crate::trace::Hop>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.errno.is_none()
    }
    /// The deciding rule (the last one applied).
    pub fn rule(&self) -> Option<&'static Rule> {
        self.rules.last().copied()
    }
}

/// An access that cannot be made at all (not a KVM error: a malformed request).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    #[error("width {0} is not an access size: use 8, 16, 32 or 64 bits")]
    BadWidth(u8),
    #[error("userspace device attributes are 32-bit: width {0} is not possible")]
    UserWidth(u8),
    #[error("offset {offset:#x} is outside the {frame} frame (size {size:#x})", frame = frame.as_str())]
    OutsideFrame {
        frame: Frame,
        offset: u32,
        size: u32,
    },
    #[error("vCPU {vcpu} does not exist (the VM has {vcpus})")]
    NoSuchVcpu { vcpu: u32, vcpus: u32 },
    #[error("value {value:#x} does not fit in {width} bits")]
    ValueTooWide { value: u64, width: u8 },
    #[error("the guest cannot access its GIC before the first KVM_RUN: add a `run` step first")]
    GuestNotRunning,
    #[error("{0}")]
    Setup(String),
    #[error("vCPU {vcpu} is not running (a `schedule` step took it off its CPU): schedule it back with {{\"op\": \"schedule\", \"vcpu\": {vcpu}, \"resident\": true}} before it executes instructions")]
    VcpuNotRunning { vcpu: u32 },
    #[error("{0:?} is not a register access: use Vgic::init or Vgic::run")]
    NotAnAccess(Op),
}

/// Per-access context: the handlers report rules and notes into it, and it
/// hands them to the access's observer ([`AccessObserver`]) or keeps them for an
/// [`Outcome`] of its own.
pub(crate) struct Ctx<'o> {
    sink: Sink<'o>,
    /// Whether notes are formatted and kept (not for bulk replays).
    notes: bool,
}

enum Sink<'o> {
    Own(Recorder),
    Observer(&'o mut dyn AccessObserver),
}

impl Ctx<'static> {
    /// A context keeping the rules and notes itself ([`Ctx::into_recorder`]).
    pub(crate) fn new() -> Self {
        Ctx {
            sink: Sink::Own(Recorder::default()),
            notes: true,
        }
    }
}

impl<'o> Ctx<'o> {
    /// A context reporting to `observer`.
    pub(crate) fn observing(observer: &'o mut dyn AccessObserver) -> Self {
        let notes = observer.wants_notes();
        Ctx {
            sink: Sink::Observer(observer),
            notes,
        }
    }
    pub(crate) fn rule(&mut self, rule: &'static Rule) {
        match &mut self.sink {
            Sink::Own(r) => r.rule(rule),
            Sink::Observer(o) => o.rule(rule),
        }
    }
    pub(crate) fn note(&mut self, s: impl Into<String>) {
        if self.notes {
            self.push_note(s.into());
        }
    }
    /// A note that is formatted only when it is kept.
    pub(crate) fn note_with(&mut self, f: impl FnOnce() -> String) {
        if self.notes {
            self.push_note(f());
        }
    }
    fn push_note(&mut self, note: String) {
        match &mut self.sink {
            Sink::Own(r) => r.note(note),
            Sink::Observer(o) => o.note(note),
        }
    }
    /// What a context of its own kept (nothing when it reported to an observer).
    pub(crate) fn into_recorder(self) -> Recorder {
        match self.sink {
            Sink::Own(r) => r,
            Sink::Observer(_) => Recorder::default(),
        }
    }
}

/// Where configure_vsgis reports its rules: an access context or a trace.
pub trait RuleSink {
    fn push_rule(&mut self, rule: &'static Rule);
    fn push_note(&mut self, note: String);
}

impl RuleSink for Ctx<'_> {
    fn push_rule(&mut self, rule: &'static Rule) {
        self.rule(rule)
    }
    fn push_note(&mut self, note: String) {
        self.note(note)
    }
}

impl RuleSink for Outcome {
    fn push_rule(&mut self, rule: &'static Rule) {
        self.rules.push(rule)
    }
    fn push_note(&mut self, note: String) {
        self.notes.push(note)
    }
}

/// One register access, by value: what a guest load/store or a VMM's
/// `KVM_{GET,SET,HAS}_DEVICE_ATTR` names (the library's way in, instead of
/// positional `(Frame, vcpu, offset, width, value)` arguments).
///
/// ```
/// use gicx_core::{Access, Frame, Host, Vgic, VmConfig};
/// let mut vm = Vgic::new(Host::parse_compact("v3@6.12").unwrap(), VmConfig::new(1, 64, false).unwrap());
/// // GICD_TYPER2 as userspace reads it before init (6.17+ only; 6.12: -EBUSY).
/// let o = vm.access(Access::user_read(Frame::Dist, 0, 0x000C)).unwrap();
/// assert_eq!(o.errno.map(|e| e.as_str()), Some("EBUSY"));
/// vm.init();
/// vm.run();
/// let o = vm.access(Access::guest_read(Frame::Dist, 0, 0x0004, 32)).unwrap();
/// assert_eq!(o.register.as_deref(), Some("GICD_TYPER"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Access {
    pub path: Path,
    /// `Read`, `Write` or (userspace) `Has`.
    pub op: Op,
    pub frame: Frame,
    /// The vCPU (guest: the one executing; userspace: the redistributor's MPIDR owner).
    pub vcpu: u32,
    pub offset: u32,
    /// Bits (guest: 8/16/32/64; userspace: always 32).
    pub width: u8,
    /// The value written (writes only).
    pub value: u64,
}

impl Access {
    pub fn guest_read(frame: Frame, vcpu: u32, offset: u32, width: u8) -> Access {
        Access {
            path: Path::Guest,
            op: Op::Read,
            frame,
            vcpu,
            offset,
            width,
            value: 0,
        }
    }
    pub fn guest_write(frame: Frame, vcpu: u32, offset: u32, width: u8, value: u64) -> Access {
        Access {
            path: Path::Guest,
            op: Op::Write,
            frame,
            vcpu,
            offset,
            width,
            value,
        }
    }
    pub fn user_read(frame: Frame, vcpu: u32, offset: u32) -> Access {
        Access {
            path: Path::User,
            op: Op::Read,
            frame,
            vcpu,
            offset,
            width: 32,
            value: 0,
        }
    }
    pub fn user_write(frame: Frame, vcpu: u32, offset: u32, value: u32) -> Access {
        Access {
            path: Path::User,
            op: Op::Write,
            frame,
            vcpu,
            offset,
            width: 32,
            value: value as u64,
        }
    }
    pub fn user_has(frame: Frame, vcpu: u32, offset: u32) -> Access {
        Access {
            path: Path::User,
            op: Op::Has,
            frame,
            vcpu,
            offset,
            width: 32,
            value: 0,
        }
    }
}
