//! Where a rule applies, typed: a range of mainline releases (with the stable
//! versions that carry a change early or not at all, and the changes that
//! decide it where a stable backport does), or, for what is not kernel
//! behaviour (gicx's own conventions, a restore policy, a VMM's recipe), words.
//! Printed as the rule lists always showed it (`4.19+`, `5.7-6.16`,
//! `6.10-7.1 (not 6.12.118)`).
//!
//! ```
//! use gicx_core::host::KernelVersion;
//! use gicx_core::rules::{Applies, TYPER2_READ};
//! let k = |s: &str| s.parse::<KernelVersion>().unwrap();
//! assert_eq!(TYPER2_READ.eras.to_string(), "5.7+");
//! assert!(TYPER2_READ.eras.contains(k("6.8")));
//! assert!(!TYPER2_READ.eras.contains(k("5.6.19")));
//! assert!(matches!(TYPER2_READ.eras, Applies::Kernels(_)));
//! ```

use std::fmt;

use serde::{Serialize, Serializer};

use crate::host::KernelVersion;
use crate::kernels::Change;

/// Where a rule applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applies {
    /// Kernel behaviour, on the kernels of a [`KernelRange`].
    Kernels(KernelRange),
    /// Not kernel behaviour: gicx's own convention, a restore policy, a VMM.
    Beyond(&'static str),
}

/// Kernels a behaviour applies to: mainline releases `from..=until` (each with
/// its stable series) minus the stable series in `except`, plus those in `also`
/// and, where a stable backport decides ([`KernelVersion::has`]), every kernel
/// carrying `with`; never a kernel carrying `without`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelRange {
    /// The first mainline release; `None`: no mainline release, only `also`.
    pub from: Option<KernelVersion>,
    /// The last mainline release (its stable series included); `None`: every later one.
    pub until: Option<KernelVersion>,
    /// Stable versions (and the later ones of their series) outside `from..=until` that apply too.
    pub also: &'static [KernelVersion],
    /// Stable versions (and the later ones of their series) inside `from..=until` that do not.
    pub except: &'static [KernelVersion],
    /// A change whose kernels (its stable backports included) are in the range.
    pub with: Option<&'static Change>,
    /// A change whose kernels (its stable backports included) are out of the range.
    pub without: Option<&'static Change>,
    /// Words printed after the range (`(stable backports: gicx kernels)`), or "".
    pub note: &'static str,
}

const fn kv(major: u16, minor: u16, patch: u16) -> KernelVersion {
    KernelVersion::new(major, minor, patch)
}

impl KernelRange {
    /// `major.minor+`.
    pub const fn since(major: u16, minor: u16) -> KernelRange {
        KernelRange {
            from: Some(kv(major, minor, 0)),
            until: None,
            also: &[],
            except: &[],
            with: None,
            without: None,
            note: "",
        }
    }
    /// `from-until` (mainline releases, both included with their stable series).
    pub const fn between(from: (u16, u16), until: (u16, u16)) -> KernelRange {
        KernelRange {
            until: Some(kv(until.0, until.1, 0)),
            ..KernelRange::since(from.0, from.1)
        }
    }
    /// Only the stable versions in `also`.
    pub const fn only(also: &'static [KernelVersion]) -> KernelRange {
        KernelRange {
            from: None,
            also,
            ..KernelRange::since(0, 0)
        }
    }

    /// Whether kernel `k` (a mainline release or a stable version) is in the range.
    pub fn contains(&self, k: KernelVersion) -> bool {
        let in_series =
            |list: &[KernelVersion]| list.iter().any(|s| s.series() == k.series() && k >= *s);
        let series = k.series();
        let released = self.from.is_some_and(|f| series >= f.series())
            && self.until.is_none_or(|u| series <= u.series());
        ((released && !in_series(self.except))
            || in_series(self.also)
            || self.with.is_some_and(|c| k.has(c)))
            && !self.without.is_some_and(|c| k.has(c))
    }
}

impl Applies {
    /// `major.minor+`.
    pub const fn since(major: u16, minor: u16) -> Applies {
        Applies::Kernels(KernelRange::since(major, minor))
    }
    /// `from-until`.
    pub const fn between(from: (u16, u16), until: (u16, u16)) -> Applies {
        Applies::Kernels(KernelRange::between(from, until))
    }
    /// Whether the behaviour is the kernel's and kernel `k` has it; `false`
    /// for what is not kernel behaviour.
    pub fn contains(&self, k: KernelVersion) -> bool {
        match self {
            Applies::Kernels(r) => r.contains(k),
            Applies::Beyond(_) => false,
        }
    }
    /// The kernel range, if it is kernel behaviour.
    pub fn kernels(&self) -> Option<&KernelRange> {
        match self {
            Applies::Kernels(r) => Some(r),
            Applies::Beyond(_) => None,
        }
    }
}

fn release(k: KernelVersion) -> String {
    format!("{}.{}", k.major, k.minor)
}

fn versions(list: &[KernelVersion]) -> String {
    list.iter()
        .map(|k| k.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl KernelRange {
    fn text(&self) -> String {
        let mut parts = Vec::new();
        match (self.from, self.until) {
            (Some(from), None) => parts.push(format!("{}+", release(from))),
            (Some(from), Some(until)) => {
                parts.push(format!("{}-{}", release(from), release(until)))
            }
            (None, _) => {}
        }
        if !self.also.is_empty() {
            parts.push(versions(self.also));
        }
        let mut text = parts.join(", ");
        if !self.except.is_empty() {
            text += &format!(" (not {})", versions(self.except));
        }
        if !self.note.is_empty() {
            text += &format!(" {}", self.note);
        }
        text
    }
}

/// Padded like a string (`{:<10}` in `gicx rules`).
impl fmt::Display for KernelRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.text())
    }
}

impl fmt::Display for Applies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Applies::Kernels(r) => r.fmt(f),
            Applies::Beyond(s) => f.pad(s),
        }
    }
}

/// Serialized as printed (`"5.7+"`), as the rule lists always had it.
impl Serialize for Applies {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
