//! "Where is item X": the order in which cabinets holding an item are
//! listed to someone on the floor.

/// One cabinet pocket holding the item searched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding<T> {
    /// The cabinet's ward.
    pub ward: String,
    /// The cabinet's code, the last tie-breaker (a stable order).
    pub code: String,
    /// On hand in the pocket.
    pub quantity: i64,
    /// Whatever the caller carries along (the row to answer with).
    pub row: T,
}

/// Orders `holdings` for someone in `ward`: their own ward first (what they
/// can reach without leaving the floor), then pockets that have the item
/// before empty ones, then the fullest first, then by code. Ward names
/// compare ignoring case and surrounding spaces, as people type them.
/// Returns each holding with whether it is in the caller's ward.
pub fn nearest_first<T>(
    ward: Option<&str>,
    mut holdings: Vec<Holding<T>>,
) -> Vec<(bool, Holding<T>)> {
    let own = ward.map(str::trim).filter(|w| !w.is_empty());
    let in_ward = |h: &Holding<T>| own.is_some_and(|w| h.ward.trim().eq_ignore_ascii_case(w));
    holdings.sort_by(|a, b| {
        in_ward(b)
            .cmp(&in_ward(a))
            .then((b.quantity > 0).cmp(&(a.quantity > 0)))
            .then(b.quantity.cmp(&a.quantity))
            .then(a.code.cmp(&b.code))
    });
    holdings.into_iter().map(|h| (in_ward(&h), h)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holding(ward: &str, code: &str, quantity: i64) -> Holding<()> {
        Holding {
            ward: ward.into(),
            code: code.into(),
            quantity,
            row: (),
        }
    }

    fn codes(ordered: &[(bool, Holding<()>)]) -> Vec<(&str, bool)> {
        ordered
            .iter()
            .map(|(own, h)| (h.code.as_str(), *own))
            .collect()
    }

    #[test]
    fn the_callers_ward_comes_first_then_the_fullest() {
        let holdings = vec![
            holding("Pronto-Socorro", "PYX-PS-01", 40),
            holding("UTI Adulto", "PYX-UTI-02", 0),
            holding("UTI Adulto", "PYX-UTI-01", 3),
            holding("Pediatria", "PYX-PED-01", 12),
        ];
        let ordered = nearest_first(Some(" uti adulto "), holdings);
        assert_eq!(
            codes(&ordered),
            [
                ("PYX-UTI-01", true),
                ("PYX-UTI-02", true),
                ("PYX-PS-01", false),
                ("PYX-PED-01", false),
            ]
        );
    }

    #[test]
    fn without_a_ward_the_fullest_come_first_and_ties_go_by_code() {
        let holdings = vec![
            holding("A", "PYX-2", 5),
            holding("B", "PYX-1", 5),
            holding("C", "PYX-0", 0),
            holding("D", "PYX-3", 9),
        ];
        for ward in [None, Some(""), Some("Nowhere")] {
            let ordered = nearest_first(ward, holdings.clone());
            assert_eq!(
                codes(&ordered),
                [
                    ("PYX-3", false),
                    ("PYX-1", false),
                    ("PYX-2", false),
                    ("PYX-0", false),
                ],
                "{ward:?}"
            );
        }
    }
}
