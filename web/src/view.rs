//! The explorer's views: one enum, so adding a view (Migrate, Matrix, Delivery
//! path, Lessons…) is one variant here, one arm in `components::app` and, if it
//! keeps state of its own, one file in `state/` (its state, its messages nested
//! in `Msg`, its `apply` and tests) and one serde struct in the permalink's
//! `views` map (`view_link`).

/// A tab of the explorer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum View {
    /// The catalogue: search, fields, current values, value tester.
    #[default]
    Registers,
    /// Read or write the selected register as the guest or the VMM; init and run.
    Poke,
    /// Every step done, undo/redo, export and import.
    Log,
    /// The host (GIC, CPU interface, kernel era) and the VM's vGIC configuration.
    Host,
    /// Migrate the session's VM to another host with a VMM's recipe.
    Migrate,
    /// Every source × destination host under two policies; the audit.
    Matrix,
    /// Send an SGI or raise an SPI and follow its hops.
    Delivery,
    /// KVM's emulated ITS: registers, mappings, tables, the command queue.
    Its,
    /// Built-in lessons, step by step.
    Lessons,
    /// Every behaviour rule: id, eras, sentence, kernel source (`#rule/ID`).
    Rules,
}

impl View {
    /// In tab order.
    pub const ALL: [View; 10] = [
        View::Registers,
        View::Poke,
        View::Log,
        View::Host,
        View::Migrate,
        View::Matrix,
        View::Delivery,
        View::Its,
        View::Lessons,
        View::Rules,
    ];

    /// The id used in links and element ids: stable once published.
    pub fn id(self) -> &'static str {
        match self {
            View::Registers => "registers",
            View::Poke => "poke",
            View::Log => "log",
            View::Host => "host",
            View::Migrate => "migrate",
            View::Matrix => "matrix",
            View::Delivery => "delivery",
            View::Its => "its",
            View::Lessons => "lessons",
            View::Rules => "rules",
        }
    }

    /// The tab's label.
    pub fn label(self) -> &'static str {
        match self {
            View::Registers => "Registers",
            View::Poke => "Poke",
            View::Log => "Log",
            View::Host => "Host and VM",
            View::Migrate => "Migrate",
            View::Matrix => "Matrix",
            View::Delivery => "Delivery path",
            View::Its => "ITS",
            View::Lessons => "Lessons",
            View::Rules => "Rules",
        }
    }

    pub fn from_id(id: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.id() == id)
    }

    /// Whether the view shows the register catalogue beside it.
    pub fn uses_catalogue(self) -> bool {
        matches!(self, View::Registers | View::Poke)
    }

    /// The tab `delta` places away, wrapping (arrow keys in the tab bar).
    pub fn neighbour(self, delta: isize) -> View {
        let n = View::ALL.len() as isize;
        let i = View::ALL.iter().position(|v| *v == self).unwrap_or(0) as isize;
        View::ALL[(i + delta).rem_euclid(n) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_distinct() {
        for v in View::ALL {
            assert_eq!(View::from_id(v.id()), Some(v));
        }
        assert_eq!(View::from_id("nope"), None);
    }

    #[test]
    fn neighbours_wrap() {
        assert_eq!(View::Registers.neighbour(-1), View::Rules);
        assert_eq!(View::Rules.neighbour(1), View::Registers);
        assert_eq!(View::Poke.neighbour(1), View::Log);
    }
}
