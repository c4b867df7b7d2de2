//! The header: the share area (the link to copy by hand, the embed code), the
//! status line ("Link copied…") and the colour theme.

use gicx_core::permalink::Embed;

/// The colour theme: the system's preference, or chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

impl Theme {
    /// The toggle's order.
    pub fn next(self) -> Theme {
        match self {
            Theme::System => Theme::Light,
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::System,
        }
    }
    pub fn id(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }
    pub fn from_id(id: &str) -> Theme {
        match id {
            "light" => Theme::Light,
            "dark" => Theme::Dark,
            _ => Theme::System,
        }
    }
}

/// What the header's share area shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Share {
    #[default]
    Closed,
    /// The link in a text field, selected: the clipboard was not available.
    Link,
    /// The `<iframe>` code for the current view.
    Embed(Embed),
}

/// What a person (or the clipboard's answer) does to the share area.
#[derive(Clone, Debug)]
pub enum ShareMsg {
    Show(Share),
    /// A copy to the clipboard finished; on failure the `fallback` share area
    /// shows the text selected, to copy by hand.
    Copied {
        what: String,
        ok: bool,
        fallback: Share,
    },
    /// A passing message for the status line.
    Status(String),
}

/// The share area and the status line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShareState {
    pub share: Share,
    /// A passing message for the header's status line ("Link copied…").
    pub status: Option<String>,
}

impl ShareState {
    pub fn apply(&mut self, msg: ShareMsg) {
        match msg {
            ShareMsg::Show(share) => self.share = share,
            ShareMsg::Copied { what, ok, fallback } => {
                if ok {
                    self.status = Some(format!("{what} copied to the clipboard"));
                } else {
                    self.status = Some(format!(
                        "Press Ctrl+C to copy the selected {}",
                        what.to_lowercase()
                    ));
                    self.share = fallback;
                }
            }
            ShareMsg::Status(text) => self.status = Some(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_copy_opens_the_fallback_and_says_how_to_copy() {
        let mut s = ShareState::default();
        s.apply(ShareMsg::Copied {
            what: "Link".into(),
            ok: true,
            fallback: Share::Link,
        });
        assert_eq!(
            (s.share, s.status.as_deref()),
            (Share::Closed, Some("Link copied to the clipboard"))
        );
        s.apply(ShareMsg::Copied {
            what: "Embed code".into(),
            ok: false,
            fallback: Share::Embed(Embed::ReadOnly),
        });
        assert_eq!(s.share, Share::Embed(Embed::ReadOnly));
        assert_eq!(
            s.status.as_deref(),
            Some("Press Ctrl+C to copy the selected embed code")
        );
    }

    #[test]
    fn themes_cycle_and_read_back() {
        let mut t = Theme::System;
        for _ in 0..3 {
            assert_eq!(Theme::from_id(t.id()), t);
            t = t.next();
        }
        assert_eq!(t, Theme::System);
    }
}

/// The view's messages through the whole reducer ([`crate::state::AppState::apply`]).
#[cfg(test)]
mod reducer_tests {
    use crate::state::support::*;

    #[test]
    fn copying_falls_back_to_a_selected_field() {
        let s = AppState::default().apply(Msg::Share(ShareMsg::Copied {
            what: "Link".into(),
            ok: true,
            fallback: Share::Link,
        }));
        assert_eq!(
            s.share.status.as_deref(),
            Some("Link copied to the clipboard")
        );
        assert_eq!(s.share.share, Share::Closed);
        let s = s.apply(Msg::Share(ShareMsg::Copied {
            what: "Link".into(),
            ok: false,
            fallback: Share::Link,
        }));
        assert_eq!(
            s.share.status.as_deref(),
            Some("Press Ctrl+C to copy the selected link")
        );
        assert_eq!(s.share.share, Share::Link);
        let s = s.apply(Msg::Share(ShareMsg::Show(Share::Embed(Embed::Interactive))));
        assert_eq!(s.share.share, Share::Embed(Embed::Interactive));
    }

    #[test]
    fn themes_cycle() {
        assert_eq!(Theme::System.next().next().next(), Theme::System);
        for t in [Theme::System, Theme::Light, Theme::Dark] {
            assert_eq!(Theme::from_id(t.id()), t);
        }
    }
}
