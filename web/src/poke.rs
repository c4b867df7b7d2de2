//! The Poke form: who accesses the selected register (the guest by MMIO, or
//! the VMM through `KVM_{GET,SET,HAS}_DEVICE_ATTR`), how wide, where in it and
//! with what value; and the scenario step that form makes.

use gicx_core::catalogue::RegRef;
use gicx_core::scenario::{Num, RegStep, Step};
use serde::{Deserialize, Serialize};

use crate::value::{parse_register_value, ValueError};

/// Who accesses the register.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Actor {
    /// Guest MMIO (needs a prior KVM_RUN).
    #[default]
    Guest,
    /// The VMM, through the device-attribute ioctls (always 32-bit).
    Vmm,
}

impl Actor {
    /// The actor's name in links.
    pub fn id(self) -> &'static str {
        match self {
            Actor::Guest => "guest",
            Actor::Vmm => "vmm",
        }
    }
}

/// The Poke form as a link carries it (`views.poke`):
/// `{"actor": "vmm", "width": 32, "at": 4, "value": "0x1f"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PokeLink {
    /// `guest` or `vmm`.
    pub actor: String,
    /// Guest access width in bits: 8, 16, 32 or 64.
    pub width: u8,
    /// Byte offset inside the register: 0 to 7.
    pub at: u32,
    /// The value to write, as typed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

/// What the access does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    Read,
    Write,
    /// `KVM_HAS_DEVICE_ATTR` (VMM only).
    Has,
}

/// The form's fields, as the user left them (kept in the link under
/// `views.poke`, see [`PokeLink`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PokeForm {
    pub actor: Actor,
    /// Guest access width in bits: 8, 16, 32 or 64 (the VMM's is always 32).
    pub width: u8,
    /// Byte offset of the access inside the register instance.
    pub at: u32,
    /// The value to write, as typed.
    pub value: String,
}

impl Default for PokeForm {
    fn default() -> Self {
        PokeForm {
            actor: Actor::Guest,
            width: 32,
            at: 0,
            value: String::new(),
        }
    }
}

/// Guest access widths offered (KVM refuses some per register: that is a rule to see).
pub const GUEST_WIDTHS: [u8; 4] = [8, 16, 32, 64];

impl PokeForm {
    /// The access width for the current actor.
    pub fn effective_width(&self) -> u8 {
        match self.actor {
            Actor::Guest => self.width,
            Actor::Vmm => 32,
        }
    }

    /// The byte offsets inside `reg` an access of the current width can start at.
    pub fn offsets(&self, reg: &RegRef) -> Vec<u32> {
        let step = (self.effective_width() as u32 / 8).max(1);
        (0..reg.desc.reg_bytes as u32)
            .step_by(step as usize)
            .collect()
    }

    /// The start offset actually used: `at` if it is one of [`PokeForm::offsets`], else 0.
    pub fn effective_at(&self, reg: &RegRef) -> u32 {
        if self.offsets(reg).contains(&self.at) {
            self.at
        } else {
            0
        }
    }

    /// The form as a link carries it (`views.poke`, [`PokeLink`]).
    pub fn link(&self) -> serde_json::Value {
        crate::view_link::write(&PokeLink {
            actor: self.actor.id().into(),
            width: self.width,
            at: self.at,
            value: self.value.clone(),
        })
    }

    /// The form from a link: [`PokeLink`], or the text of links made before it.
    pub fn from_link(value: &serde_json::Value) -> Result<PokeForm, String> {
        crate::view_link::read(
            value,
            |l: PokeLink| {
                PokeForm::checked(&l.actor, &l.width.to_string(), &l.at.to_string(), l.value)
            },
            PokeForm::from_text,
        )
    }

    fn checked(actor: &str, width: &str, at: &str, value: String) -> Result<PokeForm, String> {
        let actor = match actor {
            "guest" => Actor::Guest,
            "vmm" => Actor::Vmm,
            other => return Err(format!("actor {other:?} is not guest or vmm")),
        };
        let width = width
            .parse::<u8>()
            .ok()
            .filter(|w| GUEST_WIDTHS.contains(w))
            .ok_or_else(|| format!("width {width:?} is not 8, 16, 32 or 64"))?;
        let at = at
            .parse::<u32>()
            .ok()
            .filter(|a| *a < 8)
            .ok_or_else(|| format!("offset {at:?} is not 0 to 7"))?;
        Ok(PokeForm {
            actor,
            width,
            at,
            value,
        })
    }

    /// The text form links carried before [`PokeLink`]: `"ACTOR WIDTH AT VALUE"`,
    /// e.g. `"vmm 32 4 0x1f"` (the value, last, may contain spaces). Only
    /// tests write it now, as old links.
    #[cfg(test)]
    pub fn to_text(&self) -> String {
        format!(
            "{} {} {} {}",
            self.actor.id(),
            self.width,
            self.at,
            self.value
        )
    }

    /// Read the text form of links made before [`PokeLink`], naming the part that is wrong.
    pub fn from_text(text: &str) -> Result<PokeForm, String> {
        let mut parts = text.splitn(4, ' ');
        let mut next = |what: &str| {
            parts
                .next()
                .ok_or_else(|| format!("{what} missing in {text:?}"))
        };
        let (actor, width, at) = (next("actor")?, next("width")?, next("offset")?);
        let value = next("value").unwrap_or_default().to_string();
        PokeForm::checked(actor, width, at, value)
    }

    /// The scenario step this form makes for instance `reg` and vCPU `vcpu`.
    /// The register is named when the access starts at it (`"reg":
    /// "GICD_TYPER2"`), else addressed by frame and offset.
    pub fn step(&self, reg: &RegRef, vcpu: u32, access: Access) -> Result<Step, String> {
        let width = self.effective_width();
        let at = self.effective_at(reg);
        let mut s = RegStep {
            vcpu: (vcpu != 0).then_some(vcpu),
            width: (self.actor == Actor::Guest && width != 32).then_some(width),
            ..Default::default()
        };
        if at == 0 {
            s.reg = Some(reg.name());
        } else {
            s.offset = Some(Num((reg.offset() + at) as u64));
            s.frame = Some(reg.desc.frame);
        }
        if access == Access::Write {
            if self.value.trim().is_empty() {
                return Err("type a value to write (hex 0x…, binary 0b… or decimal)".into());
            }
            let v = parse_register_value(&self.value, width as u32).map_err(|e| match e {
                ValueError::TooWide { value, bits } => {
                    format!("{value:#x} is wider than the {bits}-bit access")
                }
                e => e.to_string(),
            })?;
            s.value = Some(Num(v));
        }
        Ok(match (self.actor, access) {
            (Actor::Guest, Access::Read) => Step::GuestRead(s),
            (Actor::Guest, Access::Write) => Step::GuestWrite(s),
            (Actor::Guest, Access::Has) => {
                return Err("KVM_HAS_DEVICE_ATTR is a VMM ioctl: choose the VMM".into())
            }
            (Actor::Vmm, Access::Read) => Step::UserRead(s),
            (Actor::Vmm, Access::Write) => Step::UserWrite(s),
            (Actor::Vmm, Access::Has) => Step::UserHas(s),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gicx_core::catalogue::{lookup, Frame};
    use gicx_core::scenario::validate;

    fn form(actor: Actor, width: u8, at: u32, value: &str) -> PokeForm {
        PokeForm {
            actor,
            width,
            at,
            value: value.into(),
        }
    }

    #[test]
    fn round_trips_through_text_and_names_bad_parts() {
        for f in [
            form(Actor::Vmm, 8, 3, "0x1f"),
            form(Actor::Guest, 64, 0, ""),
            form(Actor::Guest, 16, 2, "a b  c"),
        ] {
            assert_eq!(PokeForm::from_text(&f.to_text()), Ok(f));
        }
        assert_eq!(PokeForm::default().to_text(), "guest 32 0 ");
        let bad = |t: &str| PokeForm::from_text(t).unwrap_err();
        assert_eq!(bad("guest 12 0 x"), "width \"12\" is not 8, 16, 32 or 64");
        assert_eq!(bad("cpu 32 0 x"), "actor \"cpu\" is not guest or vmm");
        assert_eq!(bad("vmm 32 9 x"), "offset \"9\" is not 0 to 7");
        assert_eq!(bad("vmm"), "width missing in \"vmm\"");
    }

    #[test]
    fn round_trips_through_its_link_struct_and_still_reads_old_text() {
        for f in [
            form(Actor::Vmm, 8, 3, "0x1f"),
            form(Actor::Guest, 64, 0, ""),
            form(Actor::Guest, 16, 2, "a b  c"),
        ] {
            assert_eq!(PokeForm::from_link(&f.link()), Ok(f.clone()));
            assert_eq!(PokeForm::from_link(&f.to_text().into()), Ok(f));
        }
        assert_eq!(
            form(Actor::Vmm, 32, 4, "0x1f").link(),
            serde_json::json!({"actor": "vmm", "width": 32, "at": 4, "value": "0x1f"})
        );
        let bad = |v: serde_json::Value| PokeForm::from_link(&v).unwrap_err();
        assert_eq!(
            bad(serde_json::json!({"actor": "cpu", "width": 32, "at": 0})),
            "actor \"cpu\" is not guest or vmm"
        );
        assert_eq!(
            bad(serde_json::json!({"actor": "vmm", "width": 12, "at": 0})),
            "width \"12\" is not 8, 16, 32 or 64"
        );
        assert!(bad(serde_json::json!({"actor": "vmm", "width": 32})).contains("missing field"));
    }

    #[test]
    fn makes_named_steps() {
        let typer2 = lookup("GICD_TYPER2").unwrap();
        let step = form(Actor::Vmm, 8, 0, "0x0")
            .step(&typer2, 0, Access::Write)
            .unwrap();
        assert_eq!(
            serde_json::to_string(&step).unwrap(),
            r#"{"op":"user_write","reg":"GICD_TYPER2","value":0}"#
        );
        let step = form(Actor::Guest, 64, 0, "")
            .step(&lookup("GICR_TYPER").unwrap(), 2, Access::Read)
            .unwrap();
        assert_eq!(
            serde_json::to_string(&step).unwrap(),
            r#"{"op":"guest_read","reg":"GICR_TYPER","vcpu":2,"width":64}"#
        );
    }

    #[test]
    fn accesses_inside_a_register_use_offsets() {
        let prio = lookup("GICD_IPRIORITYR8").unwrap();
        let f = form(Actor::Guest, 8, 3, "0xa0");
        assert_eq!(f.offsets(&prio), [0, 1, 2, 3]);
        let Step::GuestWrite(s) = f.step(&prio, 0, Access::Write).unwrap() else {
            panic!()
        };
        assert_eq!(
            (s.offset, s.frame, s.width, s.value),
            (
                Some(Num(0x423)),
                Some(Frame::Dist),
                Some(8),
                Some(Num(0xa0))
            )
        );
        // The VMM is 32-bit: a byte offset falls back to the register's start.
        let f = form(Actor::Vmm, 8, 3, "");
        assert_eq!(f.effective_at(&prio), 0);
        // A 64-bit register's upper half, for the VMM.
        let irouter = lookup("GICD_IROUTER40").unwrap();
        assert_eq!(form(Actor::Vmm, 32, 4, "").offsets(&irouter), [0, 4]);
    }

    #[test]
    fn bad_values_and_impossible_accesses_are_explained() {
        let ctlr = lookup("GICD_CTLR").unwrap();
        let e = form(Actor::Guest, 8, 0, "0x100")
            .step(&ctlr, 0, Access::Write)
            .unwrap_err();
        assert_eq!(e, "0x100 is wider than the 8-bit access");
        let e = form(Actor::Guest, 32, 0, " ")
            .step(&ctlr, 0, Access::Write)
            .unwrap_err();
        assert!(e.starts_with("type a value"), "{e}");
        assert!(form(Actor::Guest, 32, 0, "")
            .step(&ctlr, 0, Access::Has)
            .is_err());
    }

    #[test]
    fn steps_are_valid_scenario_steps() {
        let ctlr = lookup("GICR_ISENABLER0").unwrap();
        for actor in [Actor::Guest, Actor::Vmm] {
            for width in GUEST_WIDTHS {
                for access in [Access::Read, Access::Write, Access::Has] {
                    let Ok(step) = form(actor, width, 0, "1").step(&ctlr, 1, access) else {
                        continue;
                    };
                    let sc = gicx_core::scenario::Scenario {
                        name: None,
                        description: None,
                        note: None,
                        host: gicx_core::host::Host::parse_compact("v3@6.8").unwrap(),
                        vm: Default::default(),
                        steps: vec![step],
                    };
                    validate(&sc).unwrap();
                }
            }
        }
    }
}
