//! The verdicts: the capabilities to declare, what the gateway does about
//! each check, the table and the block to paste.
use super::{Action, Area, Capabilities, Check, Outcome, Scorecard, Setting};
use std::fmt::Write as _;

/// A capability is `true` when every check of its area passed, `false`
/// when one failed (the gateway's emulation is then correct where the
/// upstream is not: a partly working PATCH or filter is worse than none,
/// as the gateway only falls back per request on 405/501 or
/// `invalidFilter`), `"auto"` when nothing was observed.
pub(super) fn recommend(checks: &[Check]) -> Capabilities {
    let of = |area: Area| {
        let ran: Vec<&Check> = checks
            .iter()
            .filter(|c| c.area == area && c.outcome != Outcome::Skip)
            .collect();
        if ran.is_empty() {
            Setting::Auto
        } else if ran.iter().all(|c| c.outcome == Outcome::Pass) {
            Setting::True
        } else {
            Setting::False
        }
    };
    Capabilities {
        patch: of(Area::Patch),
        bulk: of(Area::Bulk),
        filter: of(Area::Filter),
        etag: of(Area::Etag),
    }
}

/// Fills in each check's [`Action`] under the recommended capabilities.
pub(super) fn with_actions(
    mut checks: Vec<Check>,
    caps: &Capabilities,
    version: &str,
) -> Vec<Check> {
    let emulated = |s: Setting| {
        if s == Setting::False {
            Action::Emulate
        } else {
            Action::PassThrough
        }
    };
    for c in &mut checks {
        c.action = match c.area {
            Area::Version if version == "1.1" => Action::Normalize,
            Area::Version | Area::Crud | Area::Errors => Action::PassThrough,
            // The gateway answers discovery itself, from what it knows
            // the upstream does and what it emulates.
            Area::Discovery => Action::Normalize,
            Area::Patch => emulated(caps.patch),
            // An emulated filter also sorts and pages (docs/emulation.md).
            Area::Filter | Area::Sort | Area::Paging => emulated(caps.filter),
            Area::Etag => emulated(caps.etag),
            Area::Bulk => emulated(caps.bulk),
        };
    }
    checks
}

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "FAIL",
        Outcome::Skip => "skip",
    }
}

fn action(a: Action) -> &'static str {
    match a {
        Action::PassThrough => "pass through",
        Action::Emulate => "emulate",
        Action::Normalize => "normalize",
        Action::Refuse => "refuse",
    }
}

fn area(a: Area) -> &'static str {
    match a {
        Area::Version => "version",
        Area::Discovery => "discovery",
        Area::Crud => "resources",
        Area::Errors => "errors",
        Area::Patch => "patch",
        Area::Filter => "filter",
        Area::Sort => "sort",
        Area::Paging => "paging",
        Area::Etag => "etag",
        Area::Bulk => "bulk",
    }
}

/// The scorecard as a text table, the summary, the capabilities block and
/// what (if anything) was left behind. A dry run lists the requests.
pub fn render_table(card: &Scorecard) -> String {
    let mut out = String::new();
    if card.dry_run {
        let _ = writeln!(
            out,
            "dry run: the requests a probe of {} sends (ids are placeholders; nothing was sent):",
            card.url
        );
        for r in &card.requests {
            let _ = writeln!(out, "  {r}");
        }
        return out;
    }
    let _ = writeln!(
        out,
        "probe of {} (SCIM {}), resources prefixed {}",
        card.url, card.scim_version, card.prefix
    );
    let rows: Vec<[String; 4]> = card
        .checks
        .iter()
        .map(|c| {
            [
                format!("{}: {}", area(c.area), c.name),
                outcome(c.outcome).to_string(),
                action(c.action).to_string(),
                super::client::shorten(&c.detail, 100),
            ]
        })
        .collect();
    let head = ["check", "result", "gateway", "detail"];
    let mut widths = head.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 4]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i == 3 {
                s.push_str(cell);
            } else {
                let _ = write!(s, "{cell:<w$}  ");
            }
        }
        s.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(head));
    for r in &rows {
        let _ = writeln!(
            out,
            "{}",
            line([r[0].as_str(), r[1].as_str(), r[2].as_str(), r[3].as_str()])
        );
    }
    let _ = writeln!(
        out,
        "\n{} passed, {} failed, {} skipped{}",
        card.passed(),
        card.failed(),
        card.skipped(),
        card.stopped
            .as_ref()
            .map_or(String::new(), |s| format!(" (stopped early: {s})"))
    );
    let _ = writeln!(out, "\n{}", capabilities_block(card));
    if card.left_behind.is_empty() {
        let _ = writeln!(out, "cleanup: nothing left behind");
    } else {
        let _ = writeln!(
            out,
            "cleanup: could NOT delete {}",
            card.left_behind.join(", ")
        );
    }
    out
}

/// The `[upstreams.NAME.capabilities]` block to paste, each line with the
/// reason.
pub fn capabilities_block(card: &Scorecard) -> String {
    let mut out = String::new();
    if card.scim_version == "1.1" {
        let _ = writeln!(out, "[upstreams.{}]\ndialect = \"scim1.1\"   # the gateway translates; no emulation applies", card.upstream);
        return out;
    }
    let _ = writeln!(out, "[upstreams.{}.capabilities]", card.upstream);
    let caps = &card.capabilities;
    for (key, setting, area_) in [
        ("patch", caps.patch, Area::Patch),
        ("bulk", caps.bulk, Area::Bulk),
        ("filter", caps.filter, Area::Filter),
        ("etag", caps.etag, Area::Etag),
    ] {
        let value = match setting {
            Setting::True => "true",
            Setting::False => "false",
            Setting::Auto => "\"auto\"",
        };
        let why = match setting {
            Setting::True => "works: passed through".to_string(),
            Setting::Auto => "not observed: as /ServiceProviderConfig says".to_string(),
            Setting::False => {
                let failed = card
                    .checks
                    .iter()
                    .find(|c| c.area == area_ && c.outcome == Outcome::Fail)
                    .map_or(String::new(), |c| format!(" ({})", c.name));
                format!("fails{failed}: the gateway emulates")
            }
        };
        let assign = format!("{key} = {value}");
        let _ = writeln!(out, "{assign:<16}# {why}");
    }
    out
}
