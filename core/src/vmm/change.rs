//! Changes to a recipe that a suggested fix asks of the VMM ([`crate::migrate::Fix`]):
//! a quirk replayed in its corrected form ([`Op::Quirk`]'s `corrected`), GICD_IIDR and
//! GICD_TYPER2 restored before init, line levels saved and restored. The engine
//! ([`super::save_with`], [`super::RestoreOptions::changes`]) replays a recipe with them.

use serde::Serialize;

use super::Value::Saved;
use super::{d, Access, Op, Recipe, Words, D};
use crate::catalogue::{GicdIidr, GicdTyper2};
use crate::rules::Rule;

/// A change to a recipe's sequences, as a suggested fix asks it of the VMM
/// ([`crate::migrate::Fix`]); [`save_with`] and [`restore`] (`RestoreOptions::changes`)
/// replay the recipe with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecipeChange {
    /// Replay the recipe's [`Op::Quirk`]s of this rule in their corrected form, on save
    /// and on restore.
    Correct(&'static Rule),
    /// Save GICD_IIDR and GICD_TYPER2 and restore them before anything else, before
    /// `KVM_DEV_ARM_VGIC_CTRL_INIT` where the kernel allows it (6.17+; before, right
    /// after it): the kernel documentation's order (arm-vgic-v3.rst, eed9b1420907).
    IdsBeforeInit,
    /// Save line levels (`KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO`, every vCPU's private
    /// INTIDs and the SPIs) and restore them after the rest, as QEMU does.
    LevelInfo,
}

impl RecipeChange {
    /// Stable name, in `gicx migrate --json`: `correct`, `ids-before-init`, `level-info`.
    pub fn kind(self) -> &'static str {
        match self {
            RecipeChange::Correct(_) => "correct",
            RecipeChange::IdsBeforeInit => "ids-before-init",
            RecipeChange::LevelInfo => "level-info",
        }
    }
    /// Whether `recipe` already does this (or has no quirk of the rule to correct).
    pub fn done_by(self, recipe: &Recipe) -> bool {
        match self {
            RecipeChange::Correct(rule) => !recipe.has_quirk(rule),
            RecipeChange::IdsBeforeInit => recipe.restores_ids_before_init(),
            RecipeChange::LevelInfo => recipe.restore_uses_level_info(),
        }
    }
}

impl Serialize for RecipeChange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let n = if matches!(self, RecipeChange::Correct(_)) {
            2
        } else {
            1
        };
        let mut st = s.serialize_struct("RecipeChange", n)?;
        st.serialize_field("change", self.kind())?;
        if let RecipeChange::Correct(rule) = self {
            st.serialize_field("rule", rule.id)?;
        }
        st.end()
    }
}

/// [`RecipeChange::IdsBeforeInit`]: the saves and the restore before the recipe's own.
pub(super) const IDS_SAVE: &[Op] = &[
    Op::Read(d(GicdIidr::OFFSET)),
    Op::Read(d(GicdTyper2::OFFSET)),
];
pub(super) const IDS_RESTORE: &[Op] = &[Op::PreInit(&[
    Op::Write(d(GicdIidr::OFFSET), Saved),
    Op::Write(d(GicdTyper2::OFFSET), Saved),
])];
/// [`RecipeChange::LevelInfo`]: the saves and the restores after the recipe's own.
pub(super) const LEVELS_SAVE: &[Op] = &[
    Op::ForEachVcpu(&[Op::Read(Access::PrivateLevels)]),
    Op::Read(Access::SpiLevels),
];
pub(super) const LEVELS_RESTORE: &[Op] = &[
    Op::ForEachVcpu(&[Op::Write(Access::PrivateLevels, Saved)]),
    Op::Write(Access::SpiLevels, Saved),
];

impl Recipe {
    /// Whether `ops` or any sequence nested in them has an op for which `f` holds.
    fn any_op(ops: &[Op], f: &impl Fn(&Op) -> bool) -> bool {
        ops.iter().any(|op| {
            f(op)
                || match op {
                    Op::ForEachVcpu(i) | Op::PreInit(i) | Op::Seq(i) => Recipe::any_op(i, f),
                    Op::Quirk { ops, .. } => Recipe::any_op(ops, f),
                    Op::IfSet { then, .. } => Recipe::any_op(then, f),
                    _ => false,
                }
        })
    }
    /// Whether the save or restore sequence has a quirk of `rule`.
    pub fn has_quirk(&self, rule: &Rule) -> bool {
        let f = |op: &Op| matches!(op, Op::Quirk { rule: q, .. } if q.id == rule.id);
        Recipe::any_op(self.save, &f) || Recipe::any_op(self.restore, &f)
    }
    /// Whether the restore writes GICD_IIDR and GICD_TYPER2 before init where the
    /// kernel allows it ([`Op::PreInit`], the kernel documentation's order).
    pub fn restores_ids_before_init(&self) -> bool {
        let writes = |ops: &[Op], off: u32| {
            Recipe::any_op(
                ops,
                &|op: &Op| matches!(op, Op::Write(Words { frame: D, offset, .. }, _) if *offset == off),
            )
        };
        // At the top of the sequence or of a named list in it (a recipe with an ITS
        // loads guest RAM first, then runs its vGIC list).
        fn pre_init(ops: &[Op], f: &dyn Fn(&[Op]) -> bool) -> bool {
            ops.iter().any(|op| match op {
                Op::PreInit(i) => f(i),
                Op::Seq(i) => pre_init(i, f),
                _ => false,
            })
        }
        pre_init(self.restore, &|i| {
            writes(i, GicdIidr::OFFSET) && writes(i, GicdTyper2::OFFSET)
        })
    }
}
