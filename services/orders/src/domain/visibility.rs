//! Who may see (follow, pay) an order: staff every order, a customer their
//! own, and a session opened with a CPF alone (`customer.identified`: a CPF
//! is printed on receipts, so it proves nothing) only the orders placed in
//! that very session.

/// The role identity grants a session opened by `IdentifyCustomer`.
pub const IDENTIFIED_ONLY: &str = "customer.identified";

/// A caller, as far as order visibility goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer<'a> {
    /// Sees and moves every order.
    Staff,
    /// A customer's own session: every order of `customer`.
    Customer { customer: &'a str },
    /// A CPF-only session: the orders of `customer` placed in `session`.
    Session { customer: &'a str, session: &'a str },
}

/// The owner of an order as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed<'a> {
    /// The customer (token subject) who placed it.
    pub customer: &'a str,
    /// The session it was placed in, when known.
    pub session: Option<&'a str>,
}

/// Which orders a list shows: `None` in a field means any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter<'a> {
    pub customer: Option<&'a str>,
    pub session: Option<&'a str>,
}

impl<'a> Viewer<'a> {
    /// The viewer of a token with `subject`, `roles` and `session` (its
    /// `sid`); `staff` when its roles grant managing orders.
    pub fn of(staff: bool, subject: &'a str, roles: &[String], session: &'a str) -> Self {
        if staff {
            Self::Staff
        } else if roles.iter().any(|r| r == IDENTIFIED_ONLY) {
            Self::Session {
                customer: subject,
                session,
            }
        } else {
            Self::Customer { customer: subject }
        }
    }

    /// True when this viewer may see `order`.
    pub fn may_see(&self, order: Placed<'_>) -> bool {
        match *self {
            Self::Staff => true,
            Self::Customer { customer } => order.customer == customer,
            // A token without a session sees nothing rather than everything.
            Self::Session { customer, session } => {
                !session.is_empty() && order.customer == customer && order.session == Some(session)
            }
        }
    }

    /// The list filter that shows exactly what [`Viewer::may_see`] allows.
    pub fn filter(&self) -> Filter<'a> {
        match *self {
            Self::Staff => Filter {
                customer: None,
                session: None,
            },
            Self::Customer { customer } => Filter {
                customer: Some(customer),
                session: None,
            },
            Self::Session { customer, session } => Filter {
                customer: Some(customer),
                session: Some(session),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANA: &str = "ana";

    fn placed(customer: &'static str, session: Option<&'static str>) -> Placed<'static> {
        Placed { customer, session }
    }

    #[test]
    fn staff_see_every_order() {
        let staff = Viewer::of(true, "u", &["employee".into()], "");
        assert_eq!(staff, Viewer::Staff);
        assert!(staff.may_see(placed(ANA, None)));
        assert_eq!(staff.filter().customer, None);
    }

    #[test]
    fn a_customer_sees_their_orders_of_every_session() {
        let ana = Viewer::of(false, ANA, &["customer".into()], "s1");
        assert!(ana.may_see(placed(ANA, Some("s2"))));
        assert!(ana.may_see(placed(ANA, None)));
        assert!(!ana.may_see(placed("bia", Some("s1"))));
        assert_eq!(ana.filter().session, None);
    }

    #[test]
    fn a_cpf_session_sees_only_the_orders_placed_in_it() {
        let kiosk = Viewer::of(false, ANA, &[IDENTIFIED_ONLY.into()], "s1");
        assert!(kiosk.may_see(placed(ANA, Some("s1"))));
        assert!(!kiosk.may_see(placed(ANA, Some("s2"))), "another session");
        assert!(!kiosk.may_see(placed(ANA, None)), "a login's order");
        assert!(!kiosk.may_see(placed("bia", Some("s1"))));
        assert_eq!(
            kiosk.filter(),
            Filter {
                customer: Some(ANA),
                session: Some("s1")
            }
        );
    }

    #[test]
    fn a_cpf_session_without_a_session_id_sees_nothing() {
        let odd = Viewer::of(false, ANA, &[IDENTIFIED_ONLY.into()], "");
        assert!(!odd.may_see(placed(ANA, Some(""))));
        assert!(!odd.may_see(placed(ANA, None)));
    }
}
