//! Which real kernels confirmed each rule: on which Debian arm64 kernels,
//! booted under QEMU as which host kind, a step applying the rule gave the
//! same value, errno or exception as the model. Written by
//! `scripts/kvm --record` (`gicx conform --confirmed`) into
//! `tests/kvm/confirmed.json` next to the recordings it comes from, and
//! compiled in, so `gicx rules` and the app can say "checked on real KVM".

use std::collections::BTreeMap;
use std::sync::OnceLock;

static TABLE: &str = include_str!("../../tests/kvm/confirmed.json");

fn table() -> &'static BTreeMap<String, Vec<String>> {
    static PARSED: OnceLock<BTreeMap<String, Vec<String>>> = OnceLock::new();
    // A malformed table (a hand edit) confirms nothing rather than failing.
    PARSED.get_or_init(|| serde_json::from_str(TABLE).unwrap_or_default())
}

/// The kernels that confirmed a rule, as `"6.12.118 v3"`, oldest first.
pub fn kernels(rule_id: &str) -> &'static [String] {
    table().get(rule_id).map(Vec::as_slice).unwrap_or(&[])
}

/// One line for listings: `checked on real KVM 5.10.223, 6.12.118, 7.3.4 (v3, v4.0)`,
/// or `None` when no recording confirms the rule.
pub fn summary(rule_id: &str) -> Option<String> {
    let ks = kernels(rule_id);
    if ks.is_empty() {
        return None;
    }
    let mut versions: Vec<&str> = Vec::new();
    let mut kinds: Vec<&str> = Vec::new();
    for k in ks {
        let (v, kind) = k.split_once(' ').unwrap_or((k, ""));
        if !versions.contains(&v) {
            versions.push(v);
        }
        if !kind.is_empty() && !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Some(format!(
        "checked on real KVM {} ({})",
        versions.join(", "),
        kinds.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_confirmed_id_is_a_rule() {
        for id in super::table().keys() {
            assert!(
                crate::rules::by_id(id).is_some(),
                "{id} in tests/kvm/confirmed.json is no rule"
            );
        }
    }
}
