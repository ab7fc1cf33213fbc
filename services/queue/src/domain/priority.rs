//! Who is attended first. Brazilian law (Lei 10.048/2000, as amended by Lei
//! 14.626/2023) gives priority to people with disabilities or autism, people
//! aged 60 or more, pregnant and nursing women, people with small children,
//! obese people, people with reduced mobility and blood donors; among the
//! elderly, people aged 80 or more come first (Lei 13.466/2017, amending the
//! Estatuto do Idoso).

use malha_kit::stored::StoredName;

use crate::domain::fairness::Class;

/// The priority a ticket is issued with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Normal,
    /// 80 or more (Lei 13.466/2017).
    Aged80Plus,
    /// 60 to 79.
    Aged60Plus,
    /// People with disabilities, autism included (Lei 12.764/2012).
    Disability,
    Pregnant,
    Nursing,
    /// Accompanied by a small child (criança de colo).
    SmallChild,
    Obese,
    ReducedMobility,
    BloodDonor,
}

impl Priority {
    /// Normal or preferential: what the fairness rule alternates between.
    pub fn class(self) -> Class {
        match self {
            Self::Normal => Class::Normal,
            _ => Class::Preferential,
        }
    }

    /// The order within the class, lowest first, before arrival. The law
    /// only puts 80+ ahead of the other elderly; putting them ahead of every
    /// preferential ticket keeps one simple order that satisfies it, and is
    /// how "prioridade especial" is usually run at reception desks.
    pub fn rank(self) -> i16 {
        match self {
            Self::Aged80Plus => 0,
            _ => 1,
        }
    }
}

impl StoredName for Priority {
    const KIND: &'static str = "ticket priority";
    const ALL: &'static [Self] = &[
        Self::Normal,
        Self::Aged80Plus,
        Self::Aged60Plus,
        Self::Disability,
        Self::Pregnant,
        Self::Nursing,
        Self::SmallChild,
        Self::Obese,
        Self::ReducedMobility,
        Self::BloodDonor,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Aged80Plus => "aged_80_plus",
            Self::Aged60Plus => "aged_60_plus",
            Self::Disability => "disability",
            Self::Pregnant => "pregnant",
            Self::Nursing => "nursing",
            Self::SmallChild => "small_child",
            Self::Obese => "obese",
            Self::ReducedMobility => "reduced_mobility",
            Self::BloodDonor => "blood_donor",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip() {
        malha_kit::stored::assert_round_trips::<Priority>();
    }

    #[test]
    fn every_legal_group_is_preferential_and_80_plus_comes_first() {
        for priority in Priority::ALL {
            let expected = if *priority == Priority::Normal {
                Class::Normal
            } else {
                Class::Preferential
            };
            assert_eq!(priority.class(), expected, "{priority:?}");
        }
        assert!(Priority::Aged80Plus.rank() < Priority::Aged60Plus.rank());
        assert_eq!(Priority::Aged60Plus.rank(), Priority::Pregnant.rank());
    }
}
