//! Text for the cells of the report files (CSV and XLSX), safe for the spreadsheet that opens
//! them: a value that starts like a formula (`=`, `+`, `-`, `@`, a tab or a carriage return)
//! is prefixed with an apostrophe, so Excel and LibreOffice show it as text instead of running
//! it (OWASP's CSV injection advice); a value longer than a cell holds (Excel: 32,767
//! characters) is cut with a visible mark, never refused. Numbers are written as numbers and
//! never pass through here.

use std::borrow::Cow;

/// The most characters an Excel cell holds.
pub const MAX_CELL_CHARS: usize = 32_767;

/// What a cut value ends with.
pub const TRUNCATED: &str = "…[截断 truncated]";

/// `value` as a text cell: neutralised when it starts like a formula, cut to
/// [`MAX_CELL_CHARS`] with [`TRUNCATED`] when longer.
pub fn text_cell(value: &str) -> Cow<'_, str> {
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    // Characters never outnumber bytes: most values are decided without counting.
    let long = value.len() > MAX_CELL_CHARS && value.chars().count() > MAX_CELL_CHARS;
    if !formula && !long {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len().min(4 * MAX_CELL_CHARS) + 1);
    if formula {
        out.push('\'');
    }
    if long {
        let keep = MAX_CELL_CHARS - TRUNCATED.chars().count() - usize::from(formula);
        out.extend(value.chars().take(keep));
        out.push_str(TRUNCATED);
    } else {
        out.push_str(value);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_formula_is_shown_as_text() {
        assert_eq!(
            text_cell("=HYPERLINK(\"http://evil\",\"点我\")"),
            "'=HYPERLINK(\"http://evil\",\"点我\")"
        );
        for prefix in ["+", "-", "@", "\t", "\r"] {
            assert_eq!(text_cell(&format!("{prefix}1+1")), format!("'{prefix}1+1"));
        }
        assert_eq!(text_cell("市政设施"), "市政设施");
    }

    #[test]
    fn a_value_longer_than_a_cell_is_cut_with_a_mark() {
        let cut = text_cell(&"长".repeat(40_000)).into_owned();
        assert_eq!(cut.chars().count(), MAX_CELL_CHARS);
        assert!(cut.ends_with(TRUNCATED));
        assert_eq!(
            text_cell(&"长".repeat(MAX_CELL_CHARS)).chars().count(),
            MAX_CELL_CHARS
        );
    }

    proptest! {
        /// Whatever the value: the cell fits, never starts like a formula, and a safe value
        /// that fits is written unchanged.
        #[test]
        fn every_cell_fits_and_none_starts_like_a_formula(
            value in "[=+@\t\r\\-]?[a-z噪 =]{0,40}",
            repeat in prop_oneof![Just(1usize), Just(2_000usize)],
        ) {
            let value = value.repeat(repeat);
            let cell = text_cell(&value);
            prop_assert!(cell.chars().count() <= MAX_CELL_CHARS);
            prop_assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']));
            let safe = !value.starts_with(['=', '+', '-', '@', '\t', '\r']);
            if safe && value.chars().count() <= MAX_CELL_CHARS {
                prop_assert_eq!(cell.as_ref(), value.as_str());
            } else if !safe {
                prop_assert!(cell.starts_with('\''));
            }
        }
    }
}
